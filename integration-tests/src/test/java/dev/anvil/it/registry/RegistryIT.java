package dev.anvil.it.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model registry API against the real server and database of this run (H2 or PostgreSQL). Every test
 * works on models of its own (unique names), so the order of tests and the two database runs never interfere.
 */
@ExtendWith(AnvilServerExtension.class)
class RegistryIT {

    private static final String STORIES_SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
    private static final String REF_Q8_SHA256 = "2153b7ae5b479c988e38dff17d36dabb55f7827c70b6ff9a83e0743cb4d8a32c";
    private static final String MODELS = "/api/registry/models";

    @TempDir
    Path tmp;

    private String model;

    @BeforeEach
    void uniqueModelName(TestInfo info) {
        model = "it-" + info.getTestMethod().orElseThrow().getName() + "-" + Long.toString(System.nanoTime(), 36);
    }

    // --- files the server reads (same machine as the tests) --------------------------------------

    private static Path existing(Path path) {
        Path absolute = path.toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(absolute), "test model file missing: " + absolute);
        return absolute;
    }

    /** The repository's default model; the ITs run in the integration-tests module directory. */
    static Path stories() {
        return existing(Path.of("../models/stories260K.gguf"));
    }

    static Path referenceQ8() {
        return existing(
                Path.of(System.getProperty("anvil.shared.dir", "../../shared"), "reference/models/ref-spm-q8_0.gguf"));
    }

    // --- requests ----------------------------------------------------------------------------------

    private static String versionBody(String version, Path path, String sha256) {
        JsonObjectBuilder b = Json.createObjectBuilder().add("version", version).add("path", path.toString());
        if (sha256 != null) b.add("sha256", sha256);
        return b.build().toString();
    }

    private HttpResult register(AnvilServer server, String version, Path path) {
        return server.post(MODELS + "/" + model + "/versions", versionBody(version, path, null));
    }

    private HttpResult registerOk(AnvilServer server, String version, Path path) {
        HttpResult r = register(server, version, path);
        assertEquals(201, r.status(), r::toString);
        return r;
    }

    private static HttpResult move(
            AnvilServer server, String model, String version, String stage, String reason, String actor) {
        JsonObjectBuilder b = Json.createObjectBuilder().add("stage", stage);
        if (reason != null) b.add("reason", reason);
        return server.request(
                "POST",
                MODELS + "/" + model + "/versions/" + version + "/stage",
                b.build().toString(),
                actor == null
                        ? Map.of("Content-Type", "application/json")
                        : Map.of("Content-Type", "application/json", "Authorization", AnvilServer.basicAuth(actor)));
    }

    private HttpResult moveOk(AnvilServer server, String version, String stage) {
        HttpResult r = move(server, model, version, stage, "it", "bob");
        assertEquals(200, r.status(), r::toString);
        return r;
    }

    private List<JsonObject> versions(AnvilServer server) {
        HttpResult r = server.get(MODELS + "/" + model + "/versions");
        assertEquals(200, r.status(), r::toString);
        return r.json().getJsonArray("data").stream()
                .map(JsonValue::asJsonObject)
                .toList();
    }

    private List<JsonObject> history(AnvilServer server) {
        HttpResult r = server.get(MODELS + "/" + model + "/history");
        assertEquals(200, r.status(), r::toString);
        return r.json().getJsonArray("data").stream()
                .map(JsonValue::asJsonObject)
                .toList();
    }

    private static String stageOf(List<JsonObject> versions, String version) {
        return versions.stream()
                .filter(v -> v.getString("version").equals(version))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no version " + version + " in " + versions))
                .getString("stage");
    }

    private static void assertError(HttpResult r, int status, String type, String code) {
        assertEquals(status, r.status(), r::toString);
        assertTrue(r.contentType().startsWith("application/json"), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        assertNotNull(error, r::toString);
        assertEquals(type, error.getString("type"), r::toString);
        assertFalse(error.getString("message").isBlank(), r::toString);
        if (code != null) assertEquals(code, error.getString("code"), r::toString);
    }

    // --- tests -------------------------------------------------------------------------------------

    @Test
    void registersStories260KWithMeasuredFacts(AnvilServer server) {
        HttpResult r = server.request(
                "POST",
                MODELS + "/" + model + "/versions",
                versionBody("1.0.0", stories(), STORIES_SHA256.toUpperCase()),
                Map.of("Content-Type", "application/json", "Authorization", AnvilServer.basicAuth("alice")));
        assertEquals(201, r.status(), r::toString);
        assertTrue(
                r.headers().firstValue("Location").orElse("").endsWith(MODELS + "/" + model + "/versions/1.0.0"),
                r::toString);
        JsonObject v = r.json();
        assertEquals(model, v.getString("model"));
        assertEquals("1.0.0", v.getString("version"));
        assertEquals("NONE", v.getString("stage"));
        assertEquals("GGUF", v.getString("format"));
        assertEquals(stories().toString(), v.getString("path"));
        assertEquals(STORIES_SHA256, v.getString("sha256"));
        assertEquals(1_185_376, v.getJsonNumber("sizeBytes").longValue());
        assertEquals("llama", v.getString("architecture"));
        assertEquals("F32", v.getString("quantization"));
        assertEquals(292_800, v.getJsonNumber("parameterCount").longValue());
        assertEquals("alice", v.getString("createdBy"));
        Instant created = Instant.parse(v.getString("createdAt"));
        assertTrue(Duration.between(created, Instant.now()).abs().toMinutes() < 10, r::toString);

        // What was recorded is what GET returns.
        HttpResult got = server.get(MODELS + "/" + model + "/versions/1.0.0");
        assertEquals(200, got.status(), got::toString);
        assertEquals(v, got.json());

        HttpResult m = server.get(MODELS + "/" + model);
        assertEquals(200, m.status(), m::toString);
        assertEquals(1, m.json().getInt("versionCount"));
        assertEquals("alice", m.json().getString("owner"));
        HttpResult all = server.get(MODELS);
        assertTrue(
                all.json().getJsonArray("data").stream()
                        .map(JsonValue::asJsonObject)
                        .anyMatch(x -> x.getString("name").equals(model)),
                all::toString);
    }

    @Test
    void registersQuantizedReferenceModel(AnvilServer server) {
        HttpResult r = server.post(
                MODELS + "/" + model + "/versions", versionBody("0.1.0-rc.1", referenceQ8(), REF_Q8_SHA256));
        assertEquals(201, r.status(), r::toString);
        JsonObject v = r.json();
        assertEquals(REF_Q8_SHA256, v.getString("sha256"));
        assertEquals(21_485_632, v.getJsonNumber("sizeBytes").longValue());
        assertEquals("llama", v.getString("architecture"));
        assertEquals("Q8_0", v.getString("quantization"));
        assertEquals(19_532_032, v.getJsonNumber("parameterCount").longValue());
        assertEquals(AnvilServer.ADMIN_USER, v.getString("createdBy"));
    }

    @Test
    void duplicateVersionIsAConflict(AnvilServer server) {
        registerOk(server, "1.0.0", stories());
        assertError(register(server, "1.0.0", referenceQ8()), 409, "conflict_error", "version_exists");
        List<JsonObject> versions = versions(server);
        assertEquals(1, versions.size(), versions::toString);
        assertEquals(STORIES_SHA256, versions.getFirst().getString("sha256"));
    }

    @Test
    void refusedFilesWriteNothing(AnvilServer server) throws IOException {
        byte[] noise = new byte[8192];
        new Random(7).nextBytes(noise);
        Path garbage = Files.write(tmp.resolve("garbage.gguf"), noise);
        // Valid GGUF magic and version, then a header that claims more metadata than the file holds.
        ByteBuffer header = ByteBuffer.allocate(64)
                .order(ByteOrder.LITTLE_ENDIAN)
                .put(new byte[] {'G', 'G', 'U', 'F'})
                .putInt(3)
                .putLong(2)
                .putLong(5000);
        Path corrupt = Files.write(tmp.resolve("corrupt.gguf"), header.array());

        // A brand-new model: a refused first registration must not even create the model.
        assertError(
                register(server, "1.0.0", tmp.resolve("missing.gguf")),
                400,
                "invalid_request_error",
                "artifact_not_found");
        assertError(register(server, "1.0.0", garbage), 400, "invalid_request_error", "unreadable_artifact");
        assertError(register(server, "1.0.0", corrupt), 400, "invalid_request_error", "unreadable_artifact");
        assertError(
                server.post(MODELS + "/" + model + "/versions", versionBody("1.0.0", stories(), "0".repeat(64))),
                400,
                "invalid_request_error",
                "checksum_mismatch");
        assertError(server.get(MODELS + "/" + model), 404, "not_found_error", "model_not_found");

        // An existing model: versions and history stay exactly as they were.
        registerOk(server, "1.0.0", stories());
        List<JsonObject> versionsBefore = versions(server);
        List<JsonObject> historyBefore = history(server);
        assertError(
                register(server, "2.0.0", tmp.resolve("missing.gguf")),
                400,
                "invalid_request_error",
                "artifact_not_found");
        assertError(register(server, "2.0.0", garbage), 400, "invalid_request_error", "unreadable_artifact");
        assertError(
                server.post(MODELS + "/" + model + "/versions", versionBody("2.0.0", stories(), "f".repeat(64))),
                400,
                "invalid_request_error",
                "checksum_mismatch");
        assertEquals(versionsBefore, versions(server));
        assertEquals(historyBefore, history(server));
        assertError(server.get(MODELS + "/" + model + "/versions/2.0.0"), 404, "not_found_error", "version_not_found");
    }

    @Test
    void invalidFieldsAreBadRequestsNamingTheParameter(AnvilServer server) {
        HttpResult r = register(server, "1.0", stories());
        assertError(r, 400, "invalid_request_error", "invalid_version");
        assertEquals("version", r.json().getJsonObject("error").getString("param"));
        r = register(server, "1.0.0", Path.of("relative/model.gguf"));
        assertError(r, 400, "invalid_request_error", null);
        assertEquals("path", r.json().getJsonObject("error").getString("param"));
        assertError(
                server.post(MODELS + "/" + model + "/versions", "{\"version\":\"1.0.0\""),
                400,
                "invalid_request_error",
                null);
    }

    @Test
    void illegalTransitionIsAConflictAndChangesNothing(AnvilServer server) {
        registerOk(server, "1.0.0", stories());
        registerOk(server, "2.0.0", stories());
        moveOk(server, "1.0.0", "ARCHIVED");
        moveOk(server, "2.0.0", "PRODUCTION");
        List<JsonObject> historyBefore = history(server);

        HttpResult r = move(server, model, "1.0.0", "PRODUCTION", "roll back", "alice");
        assertError(r, 409, "conflict_error", "illegal_transition");
        assertTrue(
                r.json().getJsonObject("error").getString("message").contains("ARCHIVED to PRODUCTION"), r::toString);
        assertError(
                move(server, model, "2.0.0", "PRODUCTION", null, null), 409, "conflict_error", "illegal_transition");
        assertError(move(server, model, "2.0.0", "LIVE", null, null), 400, "invalid_request_error", "invalid_stage");
        assertError(move(server, model, "9.9.9", "STAGING", null, null), 404, "not_found_error", "version_not_found");

        List<JsonObject> after = versions(server);
        assertEquals("ARCHIVED", stageOf(after, "1.0.0"));
        assertEquals("PRODUCTION", stageOf(after, "2.0.0"));
        assertEquals(historyBefore, history(server));
    }

    @Test
    void promotionArchivesThePreviousProductionVersion(AnvilServer server) {
        registerOk(server, "1.0.0", stories());
        registerOk(server, "1.1.0", referenceQ8());
        moveOk(server, "1.0.0", "PRODUCTION");
        moveOk(server, "1.1.0", "STAGING");

        HttpResult r = move(server, model, "1.1.0", "PRODUCTION", "better quality", "alice");
        assertEquals(200, r.status(), r::toString);
        JsonObject body = r.json();
        assertEquals("PRODUCTION", body.getJsonObject("version").getString("stage"));
        assertEquals("alice", body.getJsonObject("version").getString("promotedBy")); // the authenticated admin
        List<JsonObject> transitions = body.getJsonArray("transitions").stream()
                .map(JsonValue::asJsonObject)
                .toList();
        assertEquals(2, transitions.size(), r::toString);
        assertEquals("1.0.0", transitions.get(0).getString("version"));
        assertEquals("PRODUCTION", transitions.get(0).getString("from"));
        assertEquals("ARCHIVED", transitions.get(0).getString("to"));
        assertEquals("1.1.0", transitions.get(1).getString("version"));
        assertEquals("STAGING", transitions.get(1).getString("from"));

        List<JsonObject> versions = versions(server);
        assertEquals("ARCHIVED", stageOf(versions, "1.0.0"));
        assertEquals("PRODUCTION", stageOf(versions, "1.1.0"));
        assertEquals("1.1.0", server.get(MODELS + "/" + model).json().getString("productionVersion"));
    }

    @Test
    void historyRecordsWhoWhenFromToAndWhy(AnvilServer server) {
        Instant before = Instant.now().minusSeconds(60);
        server.request(
                "POST",
                MODELS + "/" + model + "/versions",
                versionBody("1.0.0", stories(), null),
                Map.of("Content-Type", "application/json", "Authorization", AnvilServer.basicAuth("alice")));
        assertEquals(
                200,
                move(server, model, "1.0.0", "STAGING", "canary on 5%", "bob").status());
        assertEquals(200, move(server, model, "1.0.0", "PRODUCTION", null, null).status());

        HttpResult r = server.get(MODELS + "/" + model + "/versions/1.0.0/history");
        assertEquals(200, r.status(), r::toString);
        List<JsonObject> rows = r.json().getJsonArray("data").stream()
                .map(JsonValue::asJsonObject)
                .toList();
        assertEquals(3, rows.size(), r::toString);

        JsonObject registered = rows.get(0);
        assertTrue(registered.isNull("from"), r::toString);
        assertEquals("NONE", registered.getString("to"));
        assertEquals("alice", registered.getString("actor"));
        assertEquals("registered", registered.getString("reason"));

        JsonObject staged = rows.get(1);
        assertEquals("NONE", staged.getString("from"));
        assertEquals("STAGING", staged.getString("to"));
        assertEquals("bob", staged.getString("actor"));
        assertEquals("canary on 5%", staged.getString("reason"));

        JsonObject promoted = rows.get(2);
        assertEquals("STAGING", promoted.getString("from"));
        assertEquals("PRODUCTION", promoted.getString("to"));
        assertEquals(AnvilServer.ADMIN_USER, promoted.getString("actor")); // the harness' default admin
        assertTrue(promoted.isNull("reason"), r::toString);

        Instant previous = before;
        for (JsonObject row : rows) {
            Instant at = Instant.parse(row.getString("at"));
            assertFalse(at.isBefore(previous), "history is in time order: " + r);
            previous = at;
        }
        assertEquals(rows, history(server));
    }

    @Test
    void concurrentPromotionsEndWithExactlyOneProductionVersion(AnvilServer server) throws Exception {
        registerOk(server, "1.0.0", stories());
        registerOk(server, "2.0.0", stories());
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 6; round++) {
                for (String v : List.of("1.0.0", "2.0.0")) {
                    if (!stageOf(versions(server), v).equals("STAGING")) moveOk(server, v, "STAGING");
                }
                CountDownLatch go = new CountDownLatch(1);
                List<Future<HttpResult>> calls = new ArrayList<>();
                for (String v : List.of("1.0.0", "2.0.0")) {
                    calls.add(pool.submit(() -> {
                        go.await();
                        return move(server, model, v, "PRODUCTION", "race", v.equals("1.0.0") ? "alice" : "bob");
                    }));
                }
                go.countDown();
                int ok = 0;
                for (Future<HttpResult> call : calls) {
                    HttpResult r = call.get();
                    assertTrue(
                            r.status() == 200 || r.status() == 409, "round " + round + ": never a server error: " + r);
                    if (r.status() == 200) ok++;
                    else assertError(r, 409, "conflict_error", null);
                }
                assertTrue(ok >= 1, "round " + round + ": at least one promotion wins");
                List<JsonObject> versions = versions(server);
                long production = versions.stream()
                        .filter(v -> v.getString("stage").equals("PRODUCTION"))
                        .count();
                assertEquals(1, production, "round " + round + ": exactly one PRODUCTION version: " + versions);
                // When both succeeded they ran one after the other: the second archived the first.
                assertEquals(
                        ok == 2 ? 1 : 0,
                        versions.stream()
                                .filter(v -> v.getString("stage").equals("ARCHIVED"))
                                .count(),
                        "round " + round + ": " + versions);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void concurrentFirstRegistrationsOfANewModelBothSucceed(AnvilServer server) throws Exception {
        // Both requests find no model and insert it; the loser hits the UNIQUE name, retries, and finds it.
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 3; round++) {
                String name = model + "-" + round;
                CountDownLatch go = new CountDownLatch(1);
                List<Future<HttpResult>> calls = new ArrayList<>();
                for (String v : List.of("1.0.0", "2.0.0")) {
                    calls.add(pool.submit(() -> {
                        go.await();
                        return server.post(MODELS + "/" + name + "/versions", versionBody(v, stories(), null));
                    }));
                }
                go.countDown();
                for (Future<HttpResult> call : calls) {
                    HttpResult r = call.get();
                    assertEquals(201, r.status(), "round " + round + ": " + r);
                }
                HttpResult versions = server.get(MODELS + "/" + name + "/versions");
                assertEquals(2, versions.json().getJsonArray("data").size(), versions::toString);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void explicitModelCreation(AnvilServer server) {
        String body = Json.createObjectBuilder()
                .add("name", model)
                .add("description", "made by hand")
                .add("owner", "team-x")
                .add("tags", Json.createArrayBuilder().add("b").add("a"))
                .build()
                .toString();
        HttpResult r = server.post(MODELS, body);
        assertEquals(201, r.status(), r::toString);
        assertEquals("team-x", r.json().getString("owner"));
        assertEquals(List.of("a", "b"), r.json().getJsonArray("tags").getValuesAs(jakarta.json.JsonString::getString));
        assertEquals(0, r.json().getInt("versionCount"));
        assertTrue(r.json().isNull("productionVersion"), r::toString);
        assertError(server.post(MODELS, body), 409, "conflict_error", "model_exists");
        assertError(server.post(MODELS, "{\"name\":\"bad name\"}"), 400, "invalid_request_error", "invalid_name");
    }

    @Test
    void openApiDocumentsTheRegistry(AnvilServer server) {
        HttpResult r = server.request("GET", "/openapi", null, Map.of("Accept", "application/json"));
        assertEquals(200, r.status(), r::toString);
        JsonObject doc = r.json();
        JsonObject paths = doc.getJsonObject("paths");
        for (String path : List.of(
                MODELS,
                MODELS + "/{name}",
                MODELS + "/{name}/versions",
                MODELS + "/{name}/versions/{version}",
                MODELS + "/{name}/versions/{version}/stage",
                MODELS + "/{name}/history",
                MODELS + "/{name}/versions/{version}/history")) {
            assertTrue(paths.containsKey(path), "missing " + path + " in " + paths.keySet());
        }
        JsonObject schemas = doc.getJsonObject("components").getJsonObject("schemas");
        for (String schema : List.of(
                "RegistryModel",
                "RegistryModelVersion",
                "RegistryStageTransition",
                "RegisterModelVersionRequest",
                "StageChangeRequest",
                "RegistryStageChange")) {
            assertTrue(schemas.containsKey(schema), "missing schema " + schema + " in " + schemas.keySet());
        }
        JsonObject register = paths.getJsonObject(MODELS + "/{name}/versions").getJsonObject("post");
        assertTrue(register.getJsonObject("responses").containsKey("201"), register::toString);
        assertTrue(register.getJsonObject("responses").containsKey("409"), register::toString);
    }

    @Test
    void registrationsAndTransitionsAreCountedByOutcome(AnvilServer server) {
        registerOk(server, "1.0.0", stories());
        assertEquals(409, register(server, "1.0.0", stories()).status());
        moveOk(server, "1.0.0", "STAGING");
        HttpResult metrics = server.get("/metrics?scope=application");
        assertEquals(200, metrics.status(), metrics::toString);
        String text = metrics.body();
        assertTrue(
                text.matches("(?s).*anvil_registry_registrations_total\\{[^}]*outcome=\"created\"[^}]*} [1-9].*"),
                text);
        assertTrue(
                text.matches("(?s).*anvil_registry_registrations_total\\{[^}]*outcome=\"conflict\"[^}]*} [1-9].*"),
                text);
        assertTrue(
                text.matches(
                        "(?s).*anvil_registry_stage_transitions_total\\{[^}]*outcome=\"ok\",stage=\"STAGING\"[^}]*} [1-9].*"),
                text);
    }
}
