package dev.anvil.it.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerProfile;
import dev.anvil.it.TestModel;
import dev.anvil.it.security.ApiOperations.Operation;
import dev.anvil.it.security.ApiOperations.Variant;
import jakarta.json.Json;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The OpenAI-compatible API on a server that listens beyond loopback (API keys required): for every {@code /v1}
 * operation of the OpenAPI document and every spelling of its path that reaches it, no key and an unknown key are
 * a 401, a key scoped to another model gets nothing of this model, and a valid key gets through. The gateway is bound
 * to the operations themselves, so no spelling skips it.
 */
@ExtendWith(AnvilServerExtension.class)
@ServerProfile(AnvilServer.Profile.API_KEYS_REQUIRED)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApiKeyAccessIT {

    private static final String MODEL = "stories260k";
    /** An embedding model, for /v1/embeddings (the reference BERT file, registered by this test). */
    private static final String EMBEDDING_MODEL = "acl-embed";

    private static final String UNKNOWN_KEY = "Bearer anv-" + "x".repeat(43);
    private static final String NOT_AN_ANVIL_KEY = "Bearer sk-not-an-anvil-key";

    private String key;
    private String otherModelsKey;
    /** A response the valid key received: the one it may rate. */
    private String responseId;
    /** A batch input file and a batch of the valid key (the Batch API operations read them). */
    private String fileId;

    private String batchId;
    /**
     * Stands for a file id in {@code DELETE /v1/files/{id}}: each call deletes a file uploaded for it ({@link #call}).
     * Digits only, so that no spelling of the path changes it.
     */
    private static final String FRESH_FILE = "9999999999";

    private static final String BOUNDARY = "----acl-boundary";

    @BeforeAll
    void keys(AnvilServer server) {
        String tenant = "acl-" + UUID.randomUUID().toString().substring(0, 8);
        HttpResult created = server.post("/api/gateway/tenants", "{\"name\":\"" + tenant + "\"}");
        assertEquals(201, created.status(), created::toString);
        HttpResult registered = server.post(
                "/api/registry/models/" + EMBEDDING_MODEL + "/versions",
                Json.createObjectBuilder()
                        .add("version", "1.0.0")
                        .add(
                                "path",
                                java.nio.file.Path.of(
                                                System.getProperty("anvil.shared.dir", "../../shared"),
                                                "reference/arch/bert-f16.gguf")
                                        .toAbsolutePath()
                                        .normalize()
                                        .toString())
                        .build()
                        .toString());
        assertEquals(201, registered.status(), registered::toString);
        TestModel.moveStage(server, EMBEDDING_MODEL, "1.0.0", "PRODUCTION", "embeddings behind API keys");
        key = "Bearer " + createKey(server, tenant, MODEL, EMBEDDING_MODEL);
        otherModelsKey = "Bearer " + createKey(server, tenant, "acl-some-other-model");
        // The promoted embedding model serves once its load after the stage change is done.
        HttpResult embedded = dev.anvil.it.Eventually.until(
                () -> call(server, "POST", "/v1/embeddings", key),
                r -> r.status() == 200,
                java.time.Duration.ofSeconds(60));
        assertEquals(200, embedded.status(), embedded::toString);
        HttpResult completion = call(server, "POST", "/v1/completions", key);
        assertEquals(200, completion.status(), completion::toString);
        responseId = completion.json().getString("id");
        fileId = upload(server);
        HttpResult batch = call(server, "POST", "/v1/batches", key);
        assertEquals(200, batch.status(), batch::toString);
        batchId = batch.json().getString("id");
    }

    private String upload(AnvilServer server) {
        HttpResult uploaded = call(server, "POST", "/v1/files", key);
        assertEquals(200, uploaded.status(), uploaded::toString);
        return uploaded.json().getString("id");
    }

    private static boolean batchApi(String template) {
        return template.startsWith("/v1/files") || template.startsWith("/v1/batches");
    }

    /** The value of a path parameter of {@code op}: the model, or the valid key's file or batch. */
    private String pathValue(Operation op) {
        if (op.template().startsWith("/v1/files")) return op.method().equals("DELETE") ? FRESH_FILE : fileId;
        if (op.template().startsWith("/v1/batches")) return batchId;
        return MODEL;
    }

    private static String createKey(AnvilServer server, String tenant, String... models) {
        HttpResult r = server.post(
                "/api/gateway/tenants/" + tenant + "/keys",
                Json.createObjectBuilder()
                        .add("name", "k-" + UUID.randomUUID().toString().substring(0, 6))
                        .add("allowedModels", Json.createArrayBuilder(List.of(models)))
                        .build()
                        .toString());
        assertEquals(201, r.status(), r::toString);
        return r.json().getString("key");
    }

    /** A request each operation answers when it is allowed to: one token of the model, or a rating of our response. */
    private String body(String path) {
        if (path.toLowerCase(java.util.Locale.ROOT).contains("files")) {
            return "--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--"
                    + BOUNDARY
                    + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"acl.jsonl\"\r\n\r\n"
                    + "{\"custom_id\":\"1\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\""
                    + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":1}}\r\n--"
                    + BOUNDARY + "--\r\n";
        }
        if (path.toLowerCase(java.util.Locale.ROOT).contains("cancel")) {
            return "";
        }
        if (path.toLowerCase(java.util.Locale.ROOT).contains("batches")) {
            return "{\"input_file_id\":\"" + fileId
                    + "\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}";
        }
        if (path.contains("chat")) {
            return "{\"model\":\"" + MODEL
                    + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":1}";
        }
        if (path.contains("embeddings")) {
            return "{\"model\":\"" + EMBEDDING_MODEL + "\",\"input\":\"Hi\"}";
        }
        if (path.contains("feedback")) {
            return "{\"response_id\":\"" + responseId + "\",\"rating\":1}";
        }
        return "{\"model\":\"" + MODEL + "\",\"prompt\":\"Hi\",\"max_tokens\":1}";
    }

    private HttpResult call(AnvilServer server, String method, String path, String authorization) {
        Map<String, String> headers = new LinkedHashMap<>();
        if (authorization != null) headers.put("Authorization", authorization);
        String body = null;
        if (path.contains(FRESH_FILE)) path = path.replace(FRESH_FILE, upload(server));
        if (method.equals("POST")) {
            body = body(path);
            headers.put(
                    "Content-Type",
                    body.startsWith("--" + BOUNDARY)
                            ? "multipart/form-data; boundary=" + BOUNDARY
                            : "application/json");
        }
        return server.requestRaw(method, path, body, headers);
    }

    private static void assertRefused(HttpResult r, int status, String code, String why) {
        ApiOperations.assertRefused(r, status, code, "Bearer", why);
    }

    /** What a key scoped to another model gets: a 403 where the operation names the model, never the model's data. */
    private void assertNothingOfTheModel(Operation op, HttpResult r, String why) {
        if (op.template().equals("/v1/models")) {
            assertEquals(200, r.status(), () -> why + ": " + r);
            assertFalse(
                    r.body().contains("\"" + MODEL + "\""), () -> why + ": the list shows only the key's models: " + r);
        } else if (batchApi(op.template())) {
            // files and batches name no model: another key gets none of this key's objects
            if (op.template().contains("{")
                    || (op.method().equals("POST") && op.template().equals("/v1/batches"))) {
                assertRefused(r, 403, "not_owner", why);
            } else {
                assertEquals(200, r.status(), () -> why + ": " + r);
                assertFalse(r.body().contains(fileId) || r.body().contains(batchId), () -> why + ": " + r);
            }
        } else if (op.template().equals("/v1/feedback")) {
            assertTrue(
                    r.status() != 401 && r.status() < 500,
                    () -> why + ": " + r); // ratings are the feedback tests' subject
        } else {
            assertRefused(r, 403, "model_not_allowed", why);
        }
    }

    private List<Operation> operations(AnvilServer server) {
        List<Operation> operations =
                ApiOperations.of(server).stream().filter(Operation::apiKey).toList();
        assertTrue(operations.size() >= 5, operations::toString);
        return operations;
    }

    @Test
    void everyV1OperationNeedsAValidKey(AnvilServer server) {
        for (Operation op : operations(server)) {
            String path = op.path(p -> pathValue(op));
            assertRefused(call(server, op.method(), path, null), 401, "missing_api_key", op + " without a key");
            assertRefused(
                    call(server, op.method(), path, NOT_AN_ANVIL_KEY),
                    401,
                    "invalid_api_key",
                    op + " with a foreign token");
            assertRefused(
                    call(server, op.method(), path, UNKNOWN_KEY), 401, "invalid_api_key", op + " with an unknown key");
            assertNothingOfTheModel(
                    op, call(server, op.method(), path, otherModelsKey), op + " with a key of another model");
            HttpResult admitted = call(server, op.method(), path, key);
            assertAdmitted(op, admitted, op + " with a valid key");
        }
    }

    /**
     * The operation ran for the valid key: a 2xx, or, for cancelling the key's batch once it has ended (its one line
     * is answered in moments), the Batch API's own 409 {@code batch_over}, which only an admitted owner can get.
     */
    private static void assertAdmitted(Operation op, HttpResult r, String why) {
        boolean endedBatch = op.template().endsWith("/cancel")
                && r.status() == 409
                && "batch_over".equals(r.json().getJsonObject("error").getString("code", null));
        assertTrue((r.status() >= 200 && r.status() < 300) || endedBatch, () -> why + ": " + r);
    }

    @Test
    void noSpellingOfAV1PathSkipsTheGateway(AnvilServer server) {
        int routed = 0;
        int unrouted = 0;
        for (Operation op : operations(server)) {
            for (Variant variant : ApiOperations.variants(op.path(p -> pathValue(op)))) {
                String why = op + " spelled " + variant.path() + " (" + variant.how() + ")";
                HttpResult admitted = call(server, op.method(), variant.path(), key);
                HttpResult anonymous = call(server, op.method(), variant.path(), null);
                assertTrue(admitted.status() < 500, why + ": " + admitted);
                if (ApiOperations.unrouted(admitted) || admitted.status() == 405) {
                    unrouted++;
                    assertEquals(admitted.status(), anonymous.status(), why + ": " + anonymous);
                } else {
                    routed++;
                    assertAdmitted(op, admitted, why);
                    assertRefused(anonymous, 401, "missing_api_key", why);
                    assertRefused(call(server, op.method(), variant.path(), UNKNOWN_KEY), 401, "invalid_api_key", why);
                    assertNothingOfTheModel(op, call(server, op.method(), variant.path(), otherModelsKey), why);
                }
            }
        }
        assertTrue(
                routed > 20 && unrouted > 20,
                "both kinds of spelling were tried: routed " + routed + ", unrouted " + unrouted);
    }
}
