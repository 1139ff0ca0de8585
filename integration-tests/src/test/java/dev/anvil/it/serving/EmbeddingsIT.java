package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.TestModel;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.openai.OpenAiEmbeddingModel;
import dev.langchain4j.model.output.Response;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code POST /v1/embeddings} on the running server with the BERT reference model ({@code ../shared/reference/arch/
 * bert-f16.gguf}, random weights, mean pooling) registered and promoted like any model: the embeddings of the
 * reference prompts agree with llama.cpp's, through raw HTTP (floats and base64), the official {@code openai} npm
 * client (which asks for base64 and decodes it unless told otherwise) and LangChain4j's OpenAI embedding model; every
 * bad request is a 400 in OpenAI's error shape naming its param.
 */
@ExtendWith(AnvilServerExtension.class)
class EmbeddingsIT {

    static final Path ARCH = Path.of(System.getProperty("anvil.shared.dir", "../../shared"), "reference/arch")
            .toAbsolutePath()
            .normalize();
    /** The embedding model, and the same file under a name the harness declares truncatable (Matryoshka). */
    static final String MODEL = "it-embed", MRL_MODEL = AnvilServer.MATRYOSHKA_TEST_MODEL;
    /** Max abs against llama.cpp on normalized vectors: the engine's unit test bound (BertReferenceTest). */
    static final double TOLERANCE = 2e-4;

    record Reference(String prompt, int tokens, float[] embedding) {}

    static final List<Reference> REFERENCES = new ArrayList<>();
    static boolean registered;

    @BeforeAll
    static void references() throws IOException {
        try (JsonReader r = Json.createReader(
                new StringReader(Files.readString(ARCH.resolve("bert-f16.embeddings.json"), StandardCharsets.UTF_8)))) {
            for (JsonObject o : r.readArray().getValuesAs(JsonObject.class)) {
                if (!o.getBoolean("normalized")) continue;
                REFERENCES.add(new Reference(
                        o.getString("prompt"),
                        o.getJsonArray("prompt_tokens").size(),
                        floats(o.getJsonArray("embedding"))));
            }
        }
        assertEquals(4, REFERENCES.size());
    }

    static synchronized void serve(AnvilServer server) {
        if (registered) return;
        for (String name : List.of(MODEL, MRL_MODEL)) {
            HttpResult r = server.post(
                    "/api/registry/models/" + name + "/versions",
                    Json.createObjectBuilder()
                            .add("version", "1.0.0")
                            .add("path", ARCH.resolve("bert-f16.gguf").toString())
                            .build()
                            .toString());
            assertEquals(201, r.status(), r::toString);
            assertEquals("bert", r.json().getString("architecture"), r::toString);
            TestModel.moveStage(server, name, "1.0.0", "PRODUCTION", "embeddings IT");
        }
        // A promotion loads the version after the stage change commits: served once /v1/models lists it.
        HttpResult models = Eventually.until(
                () -> server.get("/v1/models"),
                r -> r.status() == 200
                        && r.body().contains("\"" + MODEL + "\"")
                        && r.body().contains("\"" + MRL_MODEL + "\""),
                Duration.ofSeconds(60));
        assertTrue(models.body().contains("\"" + MRL_MODEL + "\""), models::toString);
        registered = true;
    }

    static String body(String model, JsonArrayBuilder input, String extra) {
        String base = Json.createObjectBuilder()
                .add("model", model)
                .add("input", input)
                .build()
                .toString();
        return extra == null ? base : base.substring(0, base.length() - 1) + "," + extra + "}";
    }

    static JsonArrayBuilder referencePrompts() {
        JsonArrayBuilder a = Json.createArrayBuilder();
        for (Reference r : REFERENCES) a.add(r.prompt());
        return a;
    }

    static float[] floats(JsonArray a) {
        float[] v = new float[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = (float) a.getJsonNumber(i).doubleValue();
        return v;
    }

    static double maxAbs(float[] a, float[] b) {
        assertEquals(b.length, a.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    /** The float answer for the reference prompts, checked against llama.cpp. */
    static List<float[]> floatAnswer(AnvilServer server) {
        HttpResult r = server.post("/v1/embeddings", body(MODEL, referencePrompts(), null));
        assertEquals(200, r.status(), r::toString);
        JsonObject o = r.json();
        assertEquals("list", o.getString("object"));
        assertEquals(MODEL + "@1.0.0", o.getString("model"));
        int tokens = REFERENCES.stream().mapToInt(Reference::tokens).sum();
        assertEquals(tokens, o.getJsonObject("usage").getInt("prompt_tokens"), "[CLS] and [SEP] counted");
        assertEquals(tokens, o.getJsonObject("usage").getInt("total_tokens"));
        List<float[]> out = new ArrayList<>();
        JsonArray data = o.getJsonArray("data");
        assertEquals(REFERENCES.size(), data.size());
        for (int i = 0; i < data.size(); i++) {
            JsonObject d = data.getJsonObject(i);
            assertEquals("embedding", d.getString("object"));
            assertEquals(i, d.getInt("index"));
            float[] e = floats(d.getJsonArray("embedding"));
            double diff = maxAbs(e, REFERENCES.get(i).embedding());
            assertTrue(diff <= TOLERANCE, "input " + i + ": max abs " + diff + " against llama.cpp");
            out.add(e);
        }
        return out;
    }

    @Test
    void embeddingsAgreeWithLlamaCppAsFloatsAndBase64(AnvilServer server) {
        serve(server);
        List<float[]> floats = floatAnswer(server);
        HttpResult b = server.post("/v1/embeddings", body(MODEL, referencePrompts(), "\"encoding_format\":\"base64\""));
        assertEquals(200, b.status(), b::toString);
        JsonArray data = b.json().getJsonArray("data");
        for (int i = 0; i < data.size(); i++) {
            ByteBuffer bytes = ByteBuffer.wrap(
                            Base64.getDecoder().decode(data.getJsonObject(i).getString("embedding")))
                    .order(ByteOrder.LITTLE_ENDIAN);
            float[] v = new float[bytes.remaining() / 4];
            for (int j = 0; j < v.length; j++) v[j] = bytes.getFloat();
            assertArrayEquals(floats.get(i), v, "base64 holds the same float32 values");
        }
        // Token-id input is embedded as given: [CLS] the ... [SEP] of the first prompt, as llama.cpp tokenized it.
        HttpResult ids = server.post(
                "/v1/embeddings",
                body(
                        MODEL,
                        Json.createArrayBuilder()
                                .add(Json.createArrayBuilder(List.of(
                                        101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102))),
                        null));
        assertEquals(200, ids.status(), ids::toString);
        assertArrayEquals(
                floats.getFirst(),
                floats(ids.json().getJsonArray("data").getJsonObject(0).getJsonArray("embedding")));
    }

    @Test
    void dimensionsShortenOnlyModelsDeclaredTruncatable(AnvilServer server) {
        serve(server);
        List<float[]> full = floatAnswer(server);
        HttpResult r = server.post("/v1/embeddings", body(MRL_MODEL, referencePrompts(), "\"dimensions\":64"));
        assertEquals(200, r.status(), r::toString);
        float[] e = floats(r.json().getJsonArray("data").getJsonObject(0).getJsonArray("embedding"));
        assertEquals(64, e.length);
        double norm = 0, fullNorm = 0;
        for (float f : e) norm += f * f;
        for (int i = 0; i < 64; i++) fullNorm += full.getFirst()[i] * full.getFirst()[i];
        assertEquals(1.0, norm, 1e-5, "re-normalized after truncation");
        for (int i = 0; i < 64; i++)
            assertEquals(full.getFirst()[i] / Math.sqrt(fullNorm), e[i], 1e-6, "the first 64 elements, rescaled");
        assertError(
                server.post("/v1/embeddings", body(MODEL, referencePrompts(), "\"dimensions\":64")),
                "dimensions",
                "dimensions_not_supported");
        assertError(
                server.post("/v1/embeddings", body(MRL_MODEL, referencePrompts(), "\"dimensions\":257")),
                "dimensions",
                "invalid_value");
        assertEquals(
                200,
                server.post("/v1/embeddings", body(MODEL, referencePrompts(), "\"dimensions\":256"))
                        .status());
    }

    static void assertError(HttpResult r, String param, String code) {
        assertEquals(400, r.status(), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        assertEquals("invalid_request_error", error.getString("type"), r::toString);
        assertEquals(param, error.isNull("param") ? null : error.getString("param"), r::toString);
        if (code != null) assertEquals(code, error.getString("code"), r::toString);
        assertTrue(error.getString("message").length() > 10, r::toString);
    }

    @Test
    void badRequestsAre400sNamingTheParam(AnvilServer server) {
        serve(server);
        assertError(server.post("/v1/embeddings", body(MODEL, Json.createArrayBuilder(), null)), "input", null);
        assertError(server.post("/v1/embeddings", "{\"model\":\"" + MODEL + "\",\"input\":\"\"}"), "input", null);
        assertError(server.post("/v1/embeddings", "{\"model\":\"" + MODEL + "\"}"), "input", null);
        JsonArrayBuilder tooMany = Json.createArrayBuilder();
        for (int i = 0; i < 257; i++) tooMany.add("x");
        assertError(server.post("/v1/embeddings", body(MODEL, tooMany, null)), "input", "too_many_inputs");
        String longText = "word ".repeat(600);
        HttpResult tooLong = server.post(
                "/v1/embeddings",
                body(MODEL, Json.createArrayBuilder().add("ok").add(longText), null));
        assertError(tooLong, "input", "context_length_exceeded");
        assertTrue(tooLong.json().getJsonObject("error").getString("message").contains("512"), tooLong::toString);
        assertError(
                server.post("/v1/embeddings", body(MODEL, referencePrompts(), "\"encoding_format\":\"int8\"")),
                "encoding_format",
                "invalid_value");
        assertError(
                server.post(
                        "/v1/embeddings",
                        body(
                                MODEL,
                                Json.createArrayBuilder()
                                        .add(Json.createArrayBuilder()
                                                .add(101)
                                                .add(40000)
                                                .add(102)),
                                null)),
                "input",
                null);
        // Each model kind refuses the other's endpoints, naming the model.
        HttpResult generator = server.post(
                "/v1/embeddings", body(OpenAi.MODEL, Json.createArrayBuilder().add("x"), null));
        assertError(generator, "model", "model_not_supported");
        assertTrue(generator.json().getJsonObject("error").getString("message").contains("generation model"));
        HttpResult chat = server.post(
                "/v1/chat/completions",
                "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertError(chat, "model", "model_not_supported");
        assertTrue(chat.json().getJsonObject("error").getString("message").contains("/v1/embeddings"));
        assertError(
                server.post("/v1/completions", TestModel.greedyCompletion(MODEL, "hi", 4)),
                "model",
                "model_not_supported");
        HttpResult unknown = server.post("/v1/embeddings", body("no-such-model", referencePrompts(), null));
        assertEquals(404, unknown.status(), unknown::toString);
    }

    @Test
    void langChain4jEmbeds(AnvilServer server) {
        serve(server);
        List<float[]> expected = floatAnswer(server);
        OpenAiEmbeddingModel model = OpenAiEmbeddingModel.builder()
                .baseUrl(server.uri("/v1").toString())
                .apiKey("not-checked")
                .modelName(MODEL)
                .timeout(Duration.ofSeconds(60))
                .build();
        List<TextSegment> segments =
                REFERENCES.stream().map(r -> TextSegment.from(r.prompt())).toList();
        Response<List<Embedding>> response = model.embedAll(segments);
        assertEquals(REFERENCES.size(), response.content().size());
        for (int i = 0; i < segments.size(); i++)
            assertArrayEquals(expected.get(i), response.content().get(i).vector(), "input " + i);
        assertEquals(
                REFERENCES.stream().mapToInt(Reference::tokens).sum(),
                response.tokenUsage().inputTokenCount());
    }

    @Test
    void theOfficialOpenAiNodeClientEmbeds(AnvilServer server) throws Exception {
        serve(server);
        List<float[]> expected = floatAnswer(server);
        JsonArrayBuilder inputs = referencePrompts();
        JsonObject o = OpenAiNodeClient.runScript(
                "embed.mjs",
                """
                import OpenAI from 'openai';
                const client = new OpenAI({ baseURL: process.argv[2], apiKey: 'not-checked', maxRetries: 0 });
                const inputs = JSON.parse(process.argv[4]);
                // No encoding_format: the client asks for base64 and decodes it to floats itself.
                const decoded = await client.embeddings.create({ model: process.argv[3], input: inputs });
                const floats = await client.embeddings.create({ model: process.argv[3], input: inputs,
                    encoding_format: 'float' });
                let status = null, param = null;
                try {
                    await client.embeddings.create({ model: process.argv[3], input: [] });
                } catch (e) {
                    status = e.status; param = e.param;
                }
                console.log(JSON.stringify({
                    decoded: decoded.data.map(d => Array.from(d.embedding)),
                    floats: floats.data.map(d => d.embedding),
                    usage: decoded.usage, model: decoded.model, status, param }));
                """,
                120,
                server.uri("/v1").toString(),
                MODEL,
                inputs.build().toString());
        String out = o.toString();
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i), floats(o.getJsonArray("decoded").getJsonArray(i)), "base64, input " + i);
            assertArrayEquals(expected.get(i), floats(o.getJsonArray("floats").getJsonArray(i)), "floats, input " + i);
        }
        assertEquals(MODEL + "@1.0.0", o.getString("model"));
        assertEquals(
                REFERENCES.stream().mapToInt(Reference::tokens).sum(),
                o.getJsonObject("usage").getInt("prompt_tokens"));
        assertEquals(400, o.getInt("status"), out);
        assertEquals("input", o.getString("param"), out);
    }
}
