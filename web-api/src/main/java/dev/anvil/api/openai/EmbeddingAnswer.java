package dev.anvil.api.openai;

import jakarta.json.Json;
import jakarta.json.stream.JsonGenerator;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;

/**
 * The body of an embeddings answer, in OpenAI's shape: {@code {"object":"list","data":[{"object":"embedding",
 * "index":i,"embedding":...}],"model":...,"usage":{"prompt_tokens":n,"total_tokens":n}}}. An embedding is a JSON
 * array of floats (each written as the shortest decimal that reads back as the same float32), or with
 * {@code base64} the base64 of its float32 values in little-endian order, which OpenAI's clients decode with
 * {@code numpy.frombuffer(..., dtype="float32")} / {@code Float32Array}.
 */
final class EmbeddingAnswer {

    private EmbeddingAnswer() {}

    static String json(String model, float[][] embeddings, boolean base64, int promptTokens) {
        StringWriter out = new StringWriter(embeddings.length * (base64 ? 1400 : 3000) + 200);
        try (JsonGenerator g = Json.createGenerator(out)) {
            g.writeStartObject().write("object", "list").writeStartArray("data");
            for (int i = 0; i < embeddings.length; i++) {
                g.writeStartObject().write("object", "embedding").write("index", i);
                if (base64) {
                    g.write("embedding", base64(embeddings[i]));
                } else {
                    g.writeStartArray("embedding");
                    for (float f : embeddings[i]) g.write(new BigDecimal(Float.toString(f)));
                    g.writeEnd();
                }
                g.writeEnd();
            }
            g.writeEnd().write("model", model);
            g.writeStartObject("usage")
                    .write("prompt_tokens", promptTokens)
                    .write("total_tokens", promptTokens)
                    .writeEnd();
            g.writeEnd();
        }
        return out.toString();
    }

    /** The float32 values of {@code v}, little-endian, in standard base64 (with padding). */
    static String base64(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return Base64.getEncoder().encodeToString(b.array());
    }
}
