package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.api.ApiException;
import dev.anvil.serving.EmbeddingConfig;
import dev.anvil.serving.ServedModel;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code POST /v1/embeddings}: request validation (each refusal names its param), dimensions, the answer's shape. */
class EmbeddingsApiTest {

    private static JsonObject json(String text) {
        return Json.createReader(new StringReader(text)).readObject();
    }

    private static EmbeddingRequest parse(String body) {
        return EmbeddingRequest.parse(json(body), 4);
    }

    private static ApiException rejected(String body) {
        return assertThrows(ApiException.class, () -> parse(body));
    }

    @Test
    void acceptsEveryInputShapeOpenAiDefines() {
        EmbeddingRequest one = parse("{\"model\":\"bge\",\"input\":\"hello\"}");
        assertEquals("bge", one.model());
        assertEquals(
                List.of("hello"),
                one.inputs().stream().map(EmbeddingRequest.Input::text).toList());
        assertFalse(one.base64());
        assertNull(one.dimensions());

        EmbeddingRequest many = parse(
                "{\"model\":\"bge\",\"input\":[\"a\",\"b\"],\"encoding_format\":\"base64\",\"dimensions\":64,\"user\":\"u\"}");
        assertEquals(2, many.inputs().size());
        assertTrue(many.base64());
        assertEquals(64, many.dimensions());
        assertEquals("u", many.user());

        EmbeddingRequest ids = parse("{\"model\":\"bge\",\"input\":[101,7592,102]}");
        assertEquals(1, ids.inputs().size());
        assertArrayEquals(new int[] {101, 7592, 102}, ids.inputs().getFirst().tokens());

        EmbeddingRequest idArrays = parse("{\"model\":\"bge\",\"input\":[[101,102],[101,7592,102]]}");
        assertEquals(2, idArrays.inputs().size());
        assertArrayEquals(new int[] {101, 102}, idArrays.inputs().getFirst().tokens());
        assertFalse(parse("{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"float\"}")
                .base64());
    }

    @Test
    void refusesBadInputNamingTheParam() {
        assertEquals("model", rejected("{\"input\":\"x\"}").param());
        assertEquals("input", rejected("{\"model\":\"m\"}").param());
        assertEquals("input", rejected("{\"model\":\"m\",\"input\":\"\"}").param());
        assertEquals("input", rejected("{\"model\":\"m\",\"input\":[]}").param());
        assertEquals(
                "input", rejected("{\"model\":\"m\",\"input\":[\"ok\",\"\"]}").param());
        assertEquals("input", rejected("{\"model\":\"m\",\"input\":[[]]}").param());
        assertEquals("input", rejected("{\"model\":\"m\",\"input\":[1.5]}").param());
        assertEquals("input", rejected("{\"model\":\"m\",\"input\":[-1]}").param());
        assertEquals("input", rejected("{\"model\":\"m\",\"input\":{\"a\":1}}").param());
        assertEquals("input", rejected("{\"model\":\"m\",\"input\":[\"a\",3]}").param());
        ApiException many = rejected("{\"model\":\"m\",\"input\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}");
        assertEquals("too_many_inputs", many.code());
        assertTrue(many.getMessage().contains("at most 4"), many.getMessage());
        ApiException format = rejected("{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"int8\"}");
        assertEquals("encoding_format", format.param());
        assertEquals(400, format.status());
        assertEquals("invalid_request_error", format.type());
        assertEquals(
                "dimensions",
                rejected("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":0}").param());
        assertEquals(
                "dimensions",
                rejected("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":\"8\"}")
                        .param());
    }

    static final ServedModel BGE = new ServedModel(
            "bge", "1.0.0", null, 512, null, Instant.EPOCH, "anvil", new ServedModel.Embedding(256, "MEAN"));

    @Test
    void dimensionsUpToTheWidthAndBelowItOnlyForTruncatableModels() {
        EmbeddingPipeline p = new EmbeddingPipeline();
        p.embeddings = new EmbeddingConfig();
        assertEquals(256, p.dimensions(BGE, null));
        assertEquals(256, p.dimensions(BGE, 256));
        ApiException larger = assertThrows(ApiException.class, () -> p.dimensions(BGE, 257));
        assertEquals("dimensions", larger.param());
        ApiException notAllowed = assertThrows(ApiException.class, () -> p.dimensions(BGE, 64));
        assertEquals("dimensions_not_supported", notAllowed.code());
        assertTrue(notAllowed.getMessage().contains(EmbeddingConfig.MATRYOSHKA_MODELS), notAllowed.getMessage());

        EmbeddingConfig truncatable = new EmbeddingConfig() {
            @Override
            public boolean truncatable(String modelName) {
                return modelName.equals("bge");
            }
        };
        p.embeddings = truncatable;
        assertEquals(64, p.dimensions(BGE, 64));

        ServedModel generator = new ServedModel("stories", "1.0.0", null, 512, null, Instant.EPOCH, "anvil");
        ApiException wrongKind = assertThrows(ApiException.class, () -> p.dimensions(generator, null));
        assertEquals(400, wrongKind.status());
        assertEquals("model", wrongKind.param());
        assertEquals("model_not_supported", wrongKind.code());
        assertTrue(wrongKind.getMessage().contains("generation model"), wrongKind.getMessage());
        ServedModel perToken = new ServedModel(
                "tok", "1.0.0", null, 512, null, Instant.EPOCH, "anvil", new ServedModel.Embedding(256, "NONE"));
        assertEquals(
                "model_not_supported",
                assertThrows(ApiException.class, () -> p.dimensions(perToken, null))
                        .code());
    }

    @Test
    void answersInOpenAisShapeAsFloatsOrLittleEndianBase64() {
        float[][] v = {{0.6f, -0.8f, 1e-8f}, {1f, 0f, 0f}};
        JsonObject floats = json(EmbeddingAnswer.json("bge@1.0.0", v, false, 7));
        assertEquals("list", floats.getString("object"));
        assertEquals("bge@1.0.0", floats.getString("model"));
        assertEquals(7, floats.getJsonObject("usage").getInt("prompt_tokens"));
        assertEquals(7, floats.getJsonObject("usage").getInt("total_tokens"));
        JsonArray data = floats.getJsonArray("data");
        assertEquals(2, data.size());
        for (int i = 0; i < 2; i++) {
            JsonObject d = data.getJsonObject(i);
            assertEquals("embedding", d.getString("object"));
            assertEquals(i, d.getInt("index"));
            JsonArray e = d.getJsonArray("embedding");
            for (int j = 0; j < 3; j++)
                assertEquals(v[i][j], (float) e.getJsonNumber(j).doubleValue(), "floats read back exactly");
        }
        // Shortest decimals: 0.6, not 0.6000000238418579.
        assertTrue(EmbeddingAnswer.json("m", v, false, 1).contains("[0.6,-0.8,"));

        JsonObject b64 = json(EmbeddingAnswer.json("bge@1.0.0", v, true, 7));
        String text = b64.getJsonArray("data").getJsonObject(0).getString("embedding");
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(text)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(12, bytes.remaining());
        for (int j = 0; j < 3; j++) assertEquals(v[0][j], bytes.getFloat());
        // 0.6f little-endian is 9a 99 19 3f
        assertEquals("mpkZPw==", EmbeddingAnswer.base64(new float[] {0.6f}));
    }
}
