package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerMetrics;
import dev.anvil.it.TestModel;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Drift detection on a version's real traffic (the IT server's windows: 40 observations, evaluated every 10): traffic
 * like the reference stays silent; traffic whose prompts grow is detected on {@code prompt_tokens} in the drift API,
 * {@code /metrics}, the version's history and {@code /health}; pinning the reference clears it.
 */
@ExtendWith(AnvilServerExtension.class)
class DriftIT {

    private static final List<String> SHORT = List.of("Once upon a time", "The cat sat", "Lily had a ball", "One day");

    @Test
    void shiftedPromptsAreDetectedSameTrafficIsNotAndPinningClears(AnvilServer server) {
        EmbeddingsIT.serve(server); // the drift embedding model of the IT server (prompt_embedding)
        String model = "drift-" + Long.toString(System.nanoTime(), 36);
        TestModel.register(server, model, "1.0.0");
        String ref = model + "@1.0.0";
        try {
            assertEquals(404, server.get("/api/drift/" + model + "/1.0.0").status(), "nothing served yet");

            send(server, ref, SHORT, 40); // the reference window
            send(server, ref, SHORT, 40); // the current window: the same requests again
            // An observation is taken once its answer is written, just after the client has it: wait for the last.
            JsonObject same = Eventually.until(
                            () -> server.get("/api/drift/" + model + "/1.0.0"),
                            r -> r.status() == 200
                                    && feature(r.json(), "prompt_tokens").getInt("currentCount") == 40
                                    && feature(r.json(), "prompt_embedding").getInt("currentCount") == 40,
                            Duration.ofSeconds(20))
                    .json();
            for (String feature : List.of("prompt_tokens", "completion_tokens", "finish_reason", "prompt_embedding")) {
                JsonObject f = feature(same, feature);
                assertEquals(40, f.getInt("referenceCount"), f::toString);
                assertEquals(40, f.getInt("currentCount"), f::toString);
                assertTrue(f.getJsonNumber("psi").doubleValue() < 0.01, "the same traffic has no drift: " + f);
                assertFalse(f.getBoolean("breached"), f::toString);
            }

            String longer = "Once upon a time there was a little girl named Lily who loved to play in the park "
                    + "with her big red ball and her small brown dog every single sunny day of the summer";
            send(server, ref, List.of(longer, longer + " and then", longer + " so she"), 40);
            JsonObject shifted = Eventually.until(
                            () -> server.get("/api/drift/" + model + "/1.0.0"),
                            r -> r.status() == 200
                                    && feature(r.json(), "prompt_tokens").getBoolean("breached")
                                    && feature(r.json(), "prompt_embedding").getBoolean("breached"),
                            Duration.ofSeconds(20))
                    .json();
            JsonObject prompts = feature(shifted, "prompt_tokens");
            assertTrue(prompts.getBoolean("breached"), "longer prompts are a drift: " + prompts);
            JsonObject embedded = feature(shifted, "prompt_embedding");
            assertTrue(embedded.getBoolean("breached"), "prompts elsewhere in the embedding space: " + embedded);
            assertTrue(prompts.getJsonNumber("psi").doubleValue() >= 0.25, prompts::toString);
            JsonObject histogram = prompts.getJsonObject("histogram");
            assertEquals(
                    histogram.getJsonArray("bins").size(),
                    histogram.getJsonArray("current").size());

            assertTrue(
                    server.get("/api/drift").json().getJsonArray("data").stream()
                            .map(JsonValue::asJsonObject)
                            .anyMatch(v -> v.getString("model").equals(model)
                                    && v.getJsonArray("breached").toString().contains("prompt_tokens")),
                    "the list names the drifted feature");
            double psi = ServerMetrics.firstOrZero(
                    server, "anvil_drift_psi", "model=\"" + model + "\"", "feature=\"prompt_tokens\"");
            assertTrue(psi >= 0.25, "anvil_drift_psi: " + psi);
            assertEquals(
                    1.0,
                    ServerMetrics.firstOrZero(
                            server, "anvil_drift_breached", "model=\"" + model + "\"", "feature=\"prompt_tokens\""));
            HttpResult history = Eventually.until(
                    () -> server.get("/api/registry/models/" + model + "/versions/1.0.0/history"),
                    h -> h.body().contains("drift detected on prompt_tokens"),
                    Duration.ofSeconds(20));
            // Latency may drift too (longer prompts take longer): the prompt_tokens event is the one asserted.
            JsonObject detected = history.json().getJsonArray("events").stream()
                    .map(JsonValue::asJsonObject)
                    .filter(e -> e.getString("kind").equals("DRIFT_DETECTED")
                            && e.getString("detail").contains("prompt_tokens"))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no prompt_tokens drift event: " + history));
            assertEquals("anvil-drift", detected.getString("actor"));
            HttpResult health = server.get("/health");
            assertTrue(health.body().contains("warning " + ref), "a warning in /health: " + health);
            assertTrue(health.body().contains("\"status\":\"UP\""), "drift does not take the server out: " + health);

            HttpResult tooLong = server.request(
                    "POST",
                    "/api/drift/" + model + "/1.0.0/reference",
                    Json.createObjectBuilder()
                            .add("reason", "x".repeat(2000))
                            .build()
                            .toString(),
                    Map.of("Content-Type", "application/json"));
            assertEquals(400, tooLong.status(), tooLong::toString);
            assertEquals("reason", tooLong.json().getJsonObject("error").getString("param"));

            HttpResult pinned = server.post(
                    "/api/drift/" + model + "/1.0.0/reference", "{\"reason\":\"longer prompts are the new normal\"}");
            assertEquals(200, pinned.status(), pinned::toString);
            assertFalse(feature(pinned.json(), "prompt_tokens").getBoolean("breached"), pinned::toString);
            assertEquals(
                    0,
                    server.get("/api/drift/" + model + "/1.0.0").json().getJsonArray("features").stream()
                            .filter(f -> f.asJsonObject().getBoolean("breached"))
                            .count());
            Eventually.until(
                    () -> server.get("/api/registry/models/" + model + "/versions/1.0.0/history"),
                    h -> h.body().contains("DRIFT_REFERENCE_PINNED") && h.body().contains("the new normal"),
                    Duration.ofSeconds(20));
        } finally {
            server.post("/api/registry/models/" + model + "/versions/1.0.0/stage", "{\"stage\":\"ARCHIVED\"}");
        }
    }

    @Test
    void driftApiIsForAdmins(AnvilServer server) {
        HttpResult anonymous =
                server.request("GET", "/api/drift", null, Map.of("Authorization", AnvilServer.ANONYMOUS));
        assertEquals(401, anonymous.status(), anonymous::toString);
    }

    /** {@code count} greedy completions cycling through {@code prompts}, past the response cache. */
    private static void send(AnvilServer server, String ref, List<String> prompts, int count) {
        for (int i = 0; i < count; i++) {
            String body = Json.createObjectBuilder()
                    .add("model", ref)
                    .add("prompt", prompts.get(i % prompts.size()))
                    .add("max_tokens", 4)
                    .add("temperature", 0)
                    .build()
                    .toString();
            HttpResult r = server.request("POST", "/v1/completions", body, OpenAi.UNCACHED_AS_ADMIN);
            assertEquals(200, r.status(), r::toString);
        }
    }

    private static JsonObject feature(JsonObject report, String name) {
        return report.getJsonArray("features").stream()
                .map(JsonValue::asJsonObject)
                .filter(f -> f.getString("feature").equals(name))
                .findFirst()
                .orElseThrow();
    }
}
