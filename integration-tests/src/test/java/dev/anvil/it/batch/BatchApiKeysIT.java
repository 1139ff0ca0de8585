package dev.anvil.it.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerProfile;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The Batch API where API keys are required: no key is a 401; files and batches belong to the key that created them
 * (another key gets 403, and its lists do not show them); a batch's lines are billed to its key's tenant; a key's
 * model scope applies to the lines; the batch headers of the server's own jobs cannot be forged.
 */
@ExtendWith(AnvilServerExtension.class)
@ServerProfile(AnvilServer.Profile.API_KEYS_REQUIRED)
class BatchApiKeysIT {

    private static String tenant(AnvilServer server) {
        String name = "b-" + UUID.randomUUID().toString().substring(0, 8);
        HttpResult r = server.post("/api/gateway/tenants", "{\"name\":\"" + name + "\"}");
        assertEquals(201, r.status(), r::toString);
        return name;
    }

    private static Map<String, String> key(AnvilServer server, String tenant, String... models) {
        JsonArrayBuilder allowed = Json.createArrayBuilder();
        for (String m : models) allowed.add(m);
        HttpResult r = server.post(
                "/api/gateway/tenants/" + tenant + "/keys",
                Json.createObjectBuilder()
                        .add("name", "k-" + UUID.randomUUID().toString().substring(0, 6))
                        .add("allowedModels", allowed)
                        .build()
                        .toString());
        assertEquals(201, r.status(), r::toString);
        return Map.of("Authorization", "Bearer " + r.json().getString("key"));
    }

    @Test
    void batchesBelongToTheirKeyAndAreBilledToItsTenant(AnvilServer server) {
        String tenantA = tenant(server);
        Map<String, String> a = key(server, tenantA, BatchFiles.MODEL);
        Map<String, String> b = key(server, tenant(server), BatchFiles.MODEL);

        assertEquals(
                401,
                BatchFiles.upload(server, BatchFiles.chatLine("x", "Hi", 4), Map.of())
                        .status());
        assertEquals(401, server.request("GET", "/v1/batches", null, Map.of()).status());
        assertEquals(
                401,
                server.request("GET", "/v1/files/file-x", null, Map.of("Authorization", "Bearer anv-wrong"))
                        .status());

        String content =
                String.join("\n", BatchFiles.lines(3, i -> BatchFiles.chatLine("k" + i, "A story about " + i, 12)));
        String file = BatchFiles.uploaded(server, content, a);
        assertEquals(403, server.request("GET", "/v1/files/" + file, null, b).status());
        assertEquals(
                403,
                server.request("GET", "/v1/files/" + file + "/content", null, b).status());
        assertEquals(403, server.request("DELETE", "/v1/files/" + file, null, b).status());
        assertEquals(
                403,
                BatchFiles.createBatch(server, file, "/v1/chat/completions", b).status());

        String id = BatchFiles.created(server, file, "/v1/chat/completions", a).getString("id");
        HttpResult othersView = server.request("GET", "/v1/batches/" + id, null, b);
        assertEquals(403, othersView.status(), othersView::toString);
        assertEquals("not_owner", othersView.json().getJsonObject("error").getString("code"));
        assertEquals(
                403,
                server.request("POST", "/v1/batches/" + id + "/cancel", "", b).status());
        assertTrue(server.request("GET", "/v1/batches", null, b)
                .json()
                .getJsonArray("data")
                .isEmpty());

        JsonObject done = BatchFiles.awaitStatus(server, id, "completed", Duration.ofMinutes(3), a);
        assertEquals(3, done.getJsonObject("request_counts").getInt("completed"), done::toString);
        assertEquals(
                403,
                server.request("GET", "/v1/files/" + done.getString("output_file_id") + "/content", null, b)
                        .status());
        assertEquals(
                3,
                BatchFiles.fileLines(server, done.getString("output_file_id"), a)
                        .size());
        HttpResult list = server.request("GET", "/v1/batches", null, a);
        assertEquals(id, list.json().getJsonArray("data").getJsonObject(0).getString("id"), list::toString);

        // the lines were generations of key a: three usage rows of its tenant
        HttpResult usage = Eventually.until(
                () -> server.get("/api/gateway/usage?tenant=" + tenantA),
                r -> r.status() == 200
                        && !r.json().getJsonArray("data").isEmpty()
                        && r.json().getJsonArray("data").getJsonObject(0).getInt("requests") >= 3,
                Duration.ofSeconds(30));
        assertEquals(3, usage.json().getJsonArray("data").getJsonObject(0).getInt("requests"), usage::toString);
    }

    @Test
    void operatorsSeeEveryKeysBatchesWithTheirOwnerAndMayCancelThem(AnvilServer server) {
        String tenantA = tenant(server), tenantB = tenant(server);
        Map<String, String> a = key(server, tenantA, BatchFiles.MODEL);
        Map<String, String> b = key(server, tenantB, BatchFiles.MODEL);
        String small = BatchFiles.created(
                        server,
                        BatchFiles.uploaded(server, BatchFiles.chatLine("s", "Hi", 4), a),
                        "/v1/chat/completions",
                        a)
                .getString("id");
        String large = BatchFiles.created(
                        server,
                        BatchFiles.uploaded(
                                server,
                                String.join(
                                        "\n",
                                        BatchFiles.lines(200, i -> BatchFiles.chatLine("l" + i, "Story " + i, 64))),
                                b),
                        "/v1/chat/completions",
                        b)
                .getString("id");

        // The operators' list holds both keys' batches, newest first, each with its owner.
        HttpResult all = server.get("/api/batches?limit=100");
        assertEquals(200, all.status(), all::toString);
        Map<String, JsonObject> byId = new java.util.HashMap<>();
        for (JsonObject o : all.json().getJsonArray("data").getValuesAs(JsonObject.class))
            byId.put(o.getString("id"), o);
        assertEquals(tenantA, byId.get(small).getJsonObject("owner").getString("tenant"), all::toString);
        assertEquals(tenantB, byId.get(large).getJsonObject("owner").getString("tenant"), all::toString);
        assertTrue(
                byId.get(large).getJsonObject("owner").getJsonNumber("key_id").longValue() > 0, all::toString);
        List<String> order = all.json().getJsonArray("data").getValuesAs(JsonObject.class).stream()
                .map(o -> o.getString("id"))
                .toList();
        assertTrue(order.indexOf(large) < order.indexOf(small), "newest first: " + order);
        HttpResult page = server.get("/api/batches?limit=1&after=" + large);
        assertEquals(200, page.status(), page::toString);
        assertEquals(
                order.get(order.indexOf(large) + 1),
                page.json().getJsonArray("data").getJsonObject(0).getString("id"),
                page::toString);

        // An API key is not an operator: /api/batches is not for it.
        int asKey = server.request("GET", "/api/batches", null, a).status();
        assertTrue(asKey == 401 || asKey == 403, "an API key on /api/batches got " + asKey);
        assertEquals(404, server.get("/api/batches/batch_nope").status());
        assertEquals(400, server.get("/api/batches?limit=0").status());

        // An operator cancels key b's batch; its owner sees it cancelled, what was answered kept.
        HttpResult cancel = server.post("/api/batches/" + large + "/cancel", "");
        assertEquals(200, cancel.status(), cancel::toString);
        assertEquals(tenantB, cancel.json().getJsonObject("owner").getString("tenant"), cancel::toString);
        JsonObject cancelled = BatchFiles.awaitStatus(server, large, "cancelled", Duration.ofMinutes(2), b);
        assertTrue(cancelled.getJsonObject("request_counts").getInt("completed") < 200, cancelled::toString);
        JsonObject done = BatchFiles.awaitStatus(server, small, "completed", Duration.ofMinutes(2), a);
        HttpResult over = server.post("/api/batches/" + small + "/cancel", "");
        assertEquals(409, over.status(), over::toString);
        assertEquals("batch_over", over.json().getJsonObject("error").getString("code"), over::toString);
        assertEquals("completed", server.get("/api/batches/" + small).json().getString("status"));
        assertEquals(1, done.getJsonObject("request_counts").getInt("completed"), done::toString);
    }

    @Test
    void theKeysModelScopeAppliesToItsLines(AnvilServer server) {
        Map<String, String> scoped = key(server, tenant(server), "some-other-model");
        String file = BatchFiles.uploaded(server, BatchFiles.chatLine("s", "Hi", 4), scoped);
        HttpResult refused = BatchFiles.createBatch(server, file, "/v1/chat/completions", scoped);
        assertEquals(400, refused.status(), refused::toString);
        assertTrue(
                refused.json().getJsonObject("error").getString("message").contains("may not use model 'stories260k'"),
                refused::toString);
    }

    @Test
    void theBatchJobsHeadersCannotBeForged(AnvilServer server) {
        HttpResult forged = server.request(
                "POST",
                "/v1/chat/completions",
                "{\"model\":\"stories260k\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                Map.of(
                        "Content-Type", "application/json",
                        "X-Anvil-Batch-Line", "guess",
                        "X-Anvil-Batch-Id", "batch_x"));
        assertEquals(401, forged.status(), forged::toString);
    }
}
