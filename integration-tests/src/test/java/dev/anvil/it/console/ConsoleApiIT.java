package dev.anvil.it.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import dev.anvil.it.TestModel;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.StringReader;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What the admin API gained for the console: the experiments list's status filter, the audit log's paging,
 * registering a version by uploading its file (with JSON bodies still bounded), and the loads of model versions.
 */
@ExtendWith(AnvilServerExtension.class)
class ConsoleApiIT {

    @Test
    void experimentsCanBeListedByStatus(AnvilServer server) {
        String model =
                "console-api-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 20));
        TestModel.register(server, model, "1.0.0", "1.1.0");
        TestModel.moveStage(server, model, "1.0.0", "PRODUCTION", "baseline");
        String name = model + "-ab";
        HttpResult created = server.post(
                "/api/experiments",
                "{\"name\":\"" + name + "\",\"model\":\"" + model
                        + "\",\"strategy\":\"AB\",\"primaryMetric\":\"error_rate\","
                        + "\"variants\":[{\"name\":\"a\",\"modelVersion\":\"1.0.0\",\"control\":true,\"weightPercent\":50},"
                        + "{\"name\":\"b\",\"modelVersion\":\"1.1.0\",\"weightPercent\":50}]}");
        assertEquals(201, created.status(), created::toString);

        assertTrue(names(server.get("/api/experiments?status=DRAFT")).contains(name));
        assertFalse(names(server.get("/api/experiments?status=RUNNING")).contains(name));
        assertEquals(
                200, server.post("/api/experiments/" + name + "/start", "{}").status());
        assertTrue(names(server.get("/api/experiments?status=running")).contains(name), "case-insensitive");
        assertFalse(names(server.get("/api/experiments?status=DRAFT")).contains(name));
        assertTrue(names(server.get("/api/experiments")).contains(name), "no filter: all");

        HttpResult bad = server.get("/api/experiments?status=FINISHED");
        assertEquals(400, bad.status(), bad::toString);
        assertEquals("status", bad.json().getJsonObject("error").getString("param"), bad::toString);
        server.post("/api/experiments/" + name + "/complete", "{}");
    }

    /**
     * A promotion loads the version; the serving API lists that load with its phase and the weight bytes the engine
     * read: all of the file's tensor data once LOADED (what the console's progress bars draw while it runs).
     */
    @Test
    void theServingApiReportsTheLoadOfAPromotedVersion(AnvilServer server) throws IOException {
        String model = "console-load-"
                + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 20));
        TestModel.register(server, model, "1.0.0");
        long started = System.currentTimeMillis();
        TestModel.moveStage(server, model, "1.0.0", "PRODUCTION", "load me");
        JsonObject load = dev.anvil.it.Eventually.value(
                () -> server
                        .get("/api/serving/versions?since=" + System.currentTimeMillis())
                        .json()
                        .getJsonArray("loads")
                        .getValuesAs(JsonObject.class)
                        .stream()
                        .filter(l -> l.getString("model").equals(model))
                        .findFirst()
                        .orElse(null),
                l -> l != null && l.getString("phase").equals("LOADED"),
                java.time.Duration.ofSeconds(60));
        assertTrue(load != null && load.getString("phase").equals("LOADED"), "a LOADED load of " + model + ": " + load);
        assertEquals("1.0.0", load.getString("version"));
        long total = load.getJsonNumber("bytesTotal").longValue();
        assertTrue(total > 0 && total <= Files.size(TestModel.file()), "tensor bytes within the file: " + load);
        assertEquals(total, load.getJsonNumber("bytesRead").longValue(), load::toString);
        assertEquals(1.0, load.getJsonNumber("fractionRead").doubleValue());
        long startedAt = load.getJsonNumber("startedAt").longValue();
        assertTrue(startedAt >= started - 1000, load::toString);
        assertTrue(load.getJsonNumber("finishedAt").longValue() >= startedAt, load::toString);
        assertTrue(load.isNull("error"), load::toString);
    }

    @Test
    void theAuditLogPagesWithBefore(AnvilServer server) {
        for (int i = 0; i < 5; i++) server.get("/api/registry/models"); // admin calls are audited
        List<JsonObject> first = rows(server.get("/api/gateway/audit?limit=3&action=admin.request"));
        assertEquals(3, first.size());
        long last = first.get(2).getJsonNumber("id").longValue();
        List<JsonObject> second = rows(server.get("/api/gateway/audit?limit=3&action=admin.request&before=" + last));
        assertEquals(3, second.size());
        for (JsonObject row : second) {
            assertTrue(row.getJsonNumber("id").longValue() < last, "older rows only: " + second);
            assertEquals("admin.request", row.getString("action"));
        }
        HttpResult bad = server.get("/api/gateway/audit?before=yesterday");
        assertEquals(400, bad.status(), bad::toString);
        assertEquals("before", bad.json().getJsonObject("error").getString("param"), bad::toString);
    }

    @Test
    void aModelFileIsUploadedAndRegisteredAndARefusedOneLeavesNothing(AnvilServer server) throws Exception {
        String model =
                "console-up-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 20));
        byte[] file = Files.readAllBytes(TestModel.file());
        HttpResponse<String> ok = upload(server, model, "1.0.0", file);
        assertEquals(201, ok.statusCode(), ok::body);
        JsonObject version = Json.createReader(new StringReader(ok.body())).readObject();
        String sha =
                HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(file));
        assertEquals(sha, version.getString("sha256"));
        assertEquals(file.length, version.getJsonNumber("sizeBytes").longValue());
        assertEquals("llama", version.getString("architecture"));
        Path stored = Path.of(version.getString("path"));
        assertTrue(Files.isRegularFile(stored), "the upload is the version's file: " + stored);
        assertEquals(
                200,
                server.get("/api/registry/models/" + model + "/versions/1.0.0").status());

        // Not a model: refused as a registration by path would be, and the stored bytes are gone again.
        long before = filesIn(stored.getParent());
        HttpResponse<String> garbage = upload(server, model, "2.0.0", "not a model file at all".getBytes());
        assertEquals(400, garbage.statusCode(), garbage::body);
        assertEquals(before, filesIn(stored.getParent()), "a refused upload leaves no file");
        assertEquals(
                404,
                server.get("/api/registry/models/" + model + "/versions/2.0.0").status());

        HttpResponse<String> empty = upload(server, model, "3.0.0", new byte[0]);
        assertEquals(400, empty.statusCode(), empty::body);
        HttpResponse<String> badVersion = upload(server, model, "three", file);
        assertEquals(400, badVersion.statusCode(), badVersion::body);
        assertEquals(409, upload(server, model, "1.0.0", file).statusCode(), "the version exists");
    }

    @Test
    void jsonBodiesOfTheAdminApiStayBounded(AnvilServer server) {
        // The listener accepts model-sized bodies now; JSON is still cut at anvil.api.max-body-bytes (4 MiB).
        String huge = "{\"version\":\"1.0.0\",\"path\":\"" + "a".repeat(5 << 20) + "\"}";
        HttpResult r = server.post("/api/registry/models/console-huge/versions", huge);
        assertEquals(
                413,
                r.status(),
                () -> r.status() + " "
                        + r.body().substring(0, Math.min(300, r.body().length())));
    }

    private static HttpResponse<String> upload(AnvilServer server, String model, String version, byte[] body)
            throws Exception {
        HttpRequest request = HttpRequest.newBuilder(
                        server.uri("/api/registry/models/" + model + "/versions/" + version + "/file"))
                .header("Authorization", AnvilServer.basicAuth(AnvilServer.ADMIN_USER))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        try (HttpClient client = HttpClient.newHttpClient()) {
            return client.send(request, HttpResponse.BodyHandlers.ofString());
        }
    }

    private static long filesIn(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.count();
        }
    }

    private static List<String> names(HttpResult r) {
        assertEquals(200, r.status(), r::toString);
        return r.json().getJsonArray("data").stream()
                .map(v -> v.asJsonObject().getString("name"))
                .toList();
    }

    private static List<JsonObject> rows(HttpResult r) {
        assertEquals(200, r.status(), r::toString);
        return r.json().getJsonArray("data").stream()
                .map(JsonValue::asJsonObject)
                .toList();
    }
}
