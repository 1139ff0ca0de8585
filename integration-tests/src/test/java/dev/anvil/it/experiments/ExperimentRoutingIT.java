package dev.anvil.it.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.ExperimentFaults;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerMetrics;
import dev.anvil.it.TestModel;
import dev.anvil.tools.server.MetricSamples;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Experiments routing live {@code /v1} traffic on the real server and database of this run (H2 or PostgreSQL): the
 * A/B split and its stickiness, pinning bypassing experiments, outcomes and feedback linked to the response id, an
 * automatic canary rollback against a version the harness makes fail (anvil.serving.fault-injection), shadow copies
 * that never reach the caller but show in the results, and blue-green switching of the PRODUCTION version.
 */
@ExtendWith(AnvilServerExtension.class)
class ExperimentRoutingIT {

    private static final String EXPERIMENTS = "/api/experiments";
    private static final Map<String, String> JSON = Map.of("Content-Type", "application/json");

    private String model;
    private String suffix;

    @BeforeEach
    void names(TestInfo info) {
        suffix = Long.toString(System.nanoTime(), 36);
        model = "route-"
                + info.getTestMethod().orElseThrow().getName().toLowerCase().substring(0, 12) + "-" + suffix;
    }

    // --- helpers -----------------------------------------------------------------------------------

    /** model -> versions this test registered, archived after it. */
    private final Map<String, List<String>> registered = new HashMap<>();
    /** Experiments this test started, ended after it (so the shared model is free for the next test). */
    private final List<String> started = new ArrayList<>();
    /**
     * Per database run, one model with versions 1.0.0 and 1.1.0 that the A/B, shadow and canary-steps tests share: every
     * loaded version holds a whole KV cache in the shared test server's heap, so the tests load as few as they can.
     */
    private static final Map<String, String> SHARED = new java.util.concurrent.ConcurrentHashMap<>();

    private String sharedModel(AnvilServer server) {
        return SHARED.computeIfAbsent(server.database(), db -> {
            String shared = "route-shared-" + suffix;
            TestModel.register(server, shared, "1.0.0", "1.1.0");
            return shared;
        });
    }

    @AfterEach
    void cleanUp() {
        AnvilServer server = AnvilServer.get();
        for (String name : started) {
            if (server.get(EXPERIMENTS + "/" + name).json().getString("status").equals("RUNNING")) {
                post(server, EXPERIMENTS + "/" + name + "/complete", "{\"reason\":\"test over\"}");
            }
        }
        registered.forEach((m, versions) -> archive(server, m, versions.toArray(String[]::new)));
    }

    private void register(AnvilServer server, String model, String... versions) {
        for (String v : versions) {
            registered.computeIfAbsent(model, k -> new ArrayList<>()).add(v);
            TestModel.register(server, model, v);
        }
    }

    private static HttpResult post(AnvilServer server, String path, String body) {
        return server.request("POST", path, body, JSON);
    }

    private static JsonObjectBuilder variant(String name, String version, int weight, boolean control) {
        return Json.createObjectBuilder()
                .add("name", name)
                .add("modelVersion", version)
                .add("weightPercent", weight)
                .add("control", control);
    }

    private void createAndStart(AnvilServer server, JsonObject experiment) {
        started.add(experiment.getString("name"));
        HttpResult created = post(server, EXPERIMENTS, experiment.toString());
        assertEquals(201, created.status(), created::toString);
        HttpResult started = post(server, EXPERIMENTS + "/" + experiment.getString("name") + "/start", "{}");
        assertEquals(200, started.status(), started::toString);
    }

    /** A completion; a pinned {@code name@version} is sent with an admin's credentials, who may pin any version. */
    private static HttpResult complete(
            AnvilServer server, String model, int maxTokens, String user, Map<String, String> headers) {
        JsonObjectBuilder body = Json.createObjectBuilder()
                .add("model", model)
                .add("prompt", "Once upon a time")
                .add("max_tokens", maxTokens);
        if (user != null) body.add("user", user);
        Map<String, String> h = new HashMap<>(headers);
        h.put("Content-Type", "application/json");
        if (model.contains("@")) h.putIfAbsent("Authorization", AnvilServer.basicAuth(AnvilServer.ADMIN_USER));
        return server.request("POST", "/v1/completions", body.build().toString(), h);
    }

    private static HttpResult complete(AnvilServer server, String model, int maxTokens, String user) {
        return complete(server, model, maxTokens, user, Map.of());
    }

    /** The version that served a response ("name@version" in its model field). */
    private static String version(HttpResult r) {
        assertEquals(200, r.status(), r::toString);
        String ref = r.json().getString("model");
        return ref.substring(ref.indexOf('@') + 1);
    }

    private static <T> T poll(Supplier<T> read, Predicate<T> done, Duration timeout, String what) {
        Instant deadline = Instant.now().plus(timeout);
        T last = read.get();
        while (!done.test(last)) {
            if (Instant.now().isAfter(deadline))
                fail(what + " did not happen within " + timeout + "; last seen: " + last);
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
            last = read.get();
        }
        return last;
    }

    private static JsonObject results(AnvilServer server, String name) {
        HttpResult r = server.get(EXPERIMENTS + "/" + name + "/results");
        assertEquals(200, r.status(), r::toString);
        return r.json();
    }

    private static long outcomes(JsonObject results) {
        return results.getJsonArray("variants").stream()
                .mapToLong(v -> v.asJsonObject().getJsonNumber("outcomes").longValue())
                .sum();
    }

    private static JsonObject variantResult(JsonObject results, String variant) {
        return results.getJsonArray("variants").stream()
                .map(JsonValue::asJsonObject)
                .filter(v -> v.getString("name").equals(variant))
                .findFirst()
                .orElseThrow();
    }

    private static void promote(AnvilServer server, String model, String version) {
        HttpResult r = post(
                server,
                "/api/registry/models/" + model + "/versions/" + version + "/stage",
                "{\"stage\":\"PRODUCTION\"}");
        assertEquals(200, r.status(), r::toString);
        poll(
                () -> complete(server, model, 1, null),
                x -> x.status() == 200 && version(x).equals(version),
                Duration.ofSeconds(60),
                model + "@" + version + " serving the plain name");
    }

    /**
     * Archives the test's versions: every loaded version holds a whole KV cache in the shared test server's heap, so a
     * test unloads what it loaded (archived PRODUCTION versions stop serving, archived extras unload).
     */
    private static void archive(AnvilServer server, String model, String... versions) {
        for (String v : versions) {
            String stage = server.get("/api/registry/models/" + model + "/versions/" + v)
                    .json()
                    .getString("stage");
            if (!stage.equals("ARCHIVED"))
                post(server, "/api/registry/models/" + model + "/versions/" + v + "/stage", "{\"stage\":\"ARCHIVED\"}");
        }
    }

    private static void assertError(HttpResult r, int status, String code) {
        assertEquals(status, r.status(), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        assertNotNull(error, r::toString);
        assertEquals(code, error.getString("code"), r::toString);
        assertFalse(error.getString("message").isBlank(), r::toString);
    }

    // --- tests -------------------------------------------------------------------------------------

    @Test
    void abSplitIsStickyPinningBypassesItAndOutcomesAndFeedbackFollowTheResponseId(AnvilServer server) {
        model = sharedModel(server);
        String name = "ab-route-" + suffix;
        createAndStart(
                server,
                Json.createObjectBuilder()
                        .add("name", name)
                        .add("model", model)
                        .add("strategy", "AB")
                        .add("primaryMetric", "error_rate")
                        .add("minimumSample", 5)
                        .add(
                                "variants",
                                Json.createArrayBuilder()
                                        .add(variant("control", "1.0.0", 50, true))
                                        .add(variant("candidate", "1.1.0", 50, false)
                                                .add(
                                                        "systemPrompt",
                                                        "Answer in one short sentence, like a kind teacher.")))
                        .build());

        Map<String, String> versionOfUser = new HashMap<>();
        List<String> responseIds = new ArrayList<>();
        for (int u = 0; u < 24; u++) {
            HttpResult first = complete(server, model, 2, "user-" + u);
            HttpResult again = complete(server, model, 2, "user-" + u);
            assertEquals(version(first), version(again), "user-" + u + " is sticky to one variant");
            versionOfUser.put("user-" + u, version(first));
            responseIds.add(first.json().getString("id"));
            responseIds.add(again.json().getString("id"));
        }
        assertEquals(
                Set.of("1.0.0", "1.1.0"),
                new HashSet<>(versionOfUser.values()),
                "a 50/50 split over 24 users uses both variants");
        // The X-Anvil-User header is the same subject key as the body's user field.
        for (String user : List.of("user-0", "user-1", "user-2", "user-3")) {
            assertEquals(
                    versionOfUser.get(user), version(complete(server, model, 2, null, Map.of("X-Anvil-User", user))));
        }
        // Pinning bypasses the experiment, whatever the user's assignment; and pinned responses are not outcomes.
        String candidateUser = versionOfUser.entrySet().stream()
                .filter(e -> e.getValue().equals("1.1.0"))
                .findFirst()
                .orElseThrow()
                .getKey();
        String controlUser = versionOfUser.entrySet().stream()
                .filter(e -> e.getValue().equals("1.0.0"))
                .findFirst()
                .orElseThrow()
                .getKey();
        assertEquals("1.0.0", version(complete(server, model + "@1.0.0", 2, candidateUser)));
        assertEquals("1.1.0", version(complete(server, model + "@1.1.0", 2, controlUser)));

        // The candidate's system prompt is applied to chat requests it serves: the same conversation has more prompt
        // tokens.
        String chat = "{\"model\":\"" + model
                + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story.\"}],\"max_tokens\":2,"
                + "\"user\":\"%s\"}";
        HttpResult viaCandidate = post(server, "/v1/chat/completions", chat.formatted(candidateUser));
        HttpResult viaControl = post(server, "/v1/chat/completions", chat.formatted(controlUser));
        assertEquals("1.1.0", version(viaCandidate));
        assertEquals("1.0.0", version(viaControl));
        assertTrue(
                viaCandidate.json().getJsonObject("usage").getInt("prompt_tokens")
                        > viaControl.json().getJsonObject("usage").getInt("prompt_tokens"),
                "the candidate's system prompt was added: " + viaCandidate.body() + " vs " + viaControl.body());

        int routed = 24 * 2 + 4 + 2; // the two pinned requests are not counted
        JsonObject results = poll(
                () -> results(server, name),
                r -> outcomes(r) == routed,
                Duration.ofSeconds(30),
                "all outcomes written");
        long assignedUsers = results.getJsonArray("variants").stream()
                .mapToLong(v -> v.asJsonObject().getJsonNumber("assignments").longValue())
                .sum();
        assertEquals(24, assignedUsers, "one recorded assignment per user key");
        assertEquals(
                versionOfUser.values().stream().filter("1.1.0"::equals).count(),
                variantResult(results, "candidate").getJsonNumber("assignments").longValue());
        assertNotNull(variantResult(results, "control").get("latencyP95Ms"));
        assertTrue(variantResult(results, "control")
                        .getJsonNumber("completionTokens")
                        .longValue()
                > 0);

        // Feedback with a response id the API returned is attributed to the variant that served it.
        String candidateResponse =
                complete(server, model, 2, candidateUser).json().getString("id");
        poll(
                () -> outcomes(results(server, name)),
                n -> n == routed + 1,
                Duration.ofSeconds(30),
                "the rated response's outcome");
        // Rated by its recipient: the anonymous caller with the subject key it was served to.
        HttpResult feedback = server.request(
                "POST",
                "/v1/feedback",
                "{\"response_id\":\"" + candidateResponse + "\",\"rating\":-1}",
                Map.of("Content-Type", "application/json", "X-Anvil-User", candidateUser));
        assertEquals(201, feedback.status(), feedback::toString);
        assertEquals(name, feedback.json().getString("experiment"));
        assertEquals("candidate", feedback.json().getString("variant"));
        assertEquals(
                1,
                variantResult(results(server, name), "candidate")
                        .getJsonObject("negativeFeedbackRate")
                        .getInt("count"));

        // Per experiment and variant in /metrics.
        MetricSamples metrics = ServerMetrics.all(server);
        assertTrue(
                metrics.contains(
                        "anvil_experiment_requests_total", "experiment=\"" + name + "\"", "variant=\"candidate\""),
                "experiment request counters in /metrics");
        assertTrue(metrics.contains("anvil_experiment_latency_seconds_count"), "experiment latency timer in /metrics");

        // Once completed the experiment routes nothing: the model has no PRODUCTION version, so the plain name is
        // unknown.
        assertEquals(
                200,
                post(server, EXPERIMENTS + "/" + name + "/complete", "{\"reason\":\"done\"}")
                        .status());
        assertEquals(404, complete(server, model, 2, candidateUser).status());
        HttpResult restart = post(server, EXPERIMENTS + "/" + name + "/start", "{}");
        assertError(restart, 409, "illegal_transition");
        assertTrue(restart.json().getJsonObject("error").getString("message").contains("COMPLETED"), restart::toString);
    }

    @Test
    void failingCanaryIsRolledBackAutomaticallyWithoutDroppingRequests(AnvilServer server) throws Exception {
        String faulty = ExperimentFaults.FAILING_MODEL;
        register(server, faulty, "1.0.0", ExperimentFaults.FAILING_VERSION_NUMBER);
        promote(server, faulty, "1.0.0");
        String name = "canary-rollback-" + suffix;
        createAndStart(
                server,
                Json.createObjectBuilder()
                        .add("name", name)
                        .add("model", faulty)
                        .add("strategy", "CANARY")
                        .add("primaryMetric", "error_rate")
                        .add("maxErrorRate", 0.1)
                        .add("minimumSample", 5)
                        .add("canarySteps", "50,100")
                        .add(
                                "variants",
                                Json.createArrayBuilder()
                                        .add(variant("stable", "1.0.0", 100, true))
                                        .add(variant("canary", ExperimentFaults.FAILING_VERSION_NUMBER, 0, false)))
                        .build());

        // Long generations on the control are in flight while the controller rolls the canary back: none may be lost.
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Future<HttpResult>> inFlight = new ArrayList<>();
            for (int i = 0; i < 2; i++) inFlight.add(pool.submit(() -> complete(server, faulty + "@1.0.0", 200, null)));
            AtomicBoolean stop = new AtomicBoolean();
            ConcurrentLinkedQueue<HttpResult> traffic = new ConcurrentLinkedQueue<>();
            List<Future<?>> clients = new ArrayList<>();
            for (int c = 0; c < 4; c++) {
                clients.add(pool.submit(() -> {
                    while (!stop.get()) traffic.add(complete(server, faulty, 4, null));
                }));
            }
            JsonObject rolledBack = poll(
                    () -> server.get(EXPERIMENTS + "/" + name).json(),
                    e -> !e.getString("status").equals("RUNNING"),
                    Duration.ofSeconds(90),
                    "the automatic rollback");
            stop.set(true);
            for (Future<?> c : clients) c.get();
            assertEquals("ROLLED_BACK", rolledBack.getString("status"));
            JsonObject event = rolledBack.getJsonArray("events").stream()
                    .map(JsonValue::asJsonObject)
                    .filter(e -> e.getString("action").equals("ROLLED_BACK"))
                    .findFirst()
                    .orElseThrow();
            assertEquals("experiment-controller", event.getString("actor"));
            assertTrue(event.getString("reason").contains("error rate"), event::toString);
            assertTrue(rolledBack.getString("endReason").startsWith("automatic rollback"), rolledBack::toString);

            // Every request got an answer: served by the control, or the candidate's failure (503): the injected fault,
            // or, once the candidate's circuit breaker opened on those faults, the breaker's refusal.
            int served = 0, failed = 0;
            for (HttpResult r : traffic) {
                if (r.status() == 200) {
                    assertEquals("1.0.0", version(r));
                    served++;
                } else {
                    assertEquals(503, r.status(), r::toString);
                    assertTrue(
                            r.body().contains("@2.0.0")
                                    && (r.body().contains("injected fault")
                                            || r.body().contains("circuit breaker is open")),
                            r::toString);
                    failed++;
                }
            }
            assertTrue(failed >= 5, "the candidate failed at least the minimum sample before the rollback: " + failed);
            assertTrue(served > 0, "the control kept serving during the canary");
            for (Future<HttpResult> f : inFlight) {
                HttpResult r = f.get();
                assertEquals(200, r.status(), r::toString);
                String finish =
                        r.json().getJsonArray("choices").getJsonObject(0).getString("finish_reason");
                assertTrue(
                        finish.equals("length") || finish.equals("stop"),
                        "the in-flight generation ran to its end: " + r.body());
            }
            // Traffic is back on the control.
            for (int i = 0; i < 12; i++) assertEquals("1.0.0", version(complete(server, faulty, 2, "after-" + i)));
            JsonObject canary = variantResult(results(server, name), "canary");
            assertFalse(canary.getJsonArray("guardrailBreaches").isEmpty(), canary::toString);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void healthyCanaryIsRaisedThroughItsStepsByTheController(AnvilServer server) {
        model = sharedModel(server);
        String name = "canary-steps-" + suffix;
        createAndStart(
                server,
                Json.createObjectBuilder()
                        .add("name", name)
                        .add("model", model)
                        .add("strategy", "CANARY")
                        .add("primaryMetric", "error_rate")
                        .add("maxErrorRate", 0.5)
                        .add("minimumSample", 3)
                        .add("canarySteps", "20,60,100")
                        .add(
                                "variants",
                                Json.createArrayBuilder()
                                        .add(variant("stable", "1.0.0", 100, true))
                                        .add(variant("next", "1.1.0", 0, false)))
                        .build());
        // Traffic until the controller has raised the candidate to full rollout (20% -> 60% -> 100%).
        Instant deadline = Instant.now().plus(Duration.ofSeconds(120));
        JsonObject experiment = server.get(EXPERIMENTS + "/" + name).json();
        while (candidateWeight(experiment) < 100) {
            if (Instant.now().isAfter(deadline)) fail("the canary did not reach 100%: " + experiment);
            HttpResult r = complete(server, model, 2, null);
            assertEquals(200, r.status(), r::toString);
            experiment = server.get(EXPERIMENTS + "/" + name).json();
        }
        assertEquals(
                "RUNNING",
                experiment.getString("status"),
                "a healthy canary is not rolled back; an operator completes it");
        List<String> steps = experiment.getJsonArray("events").stream()
                .map(JsonValue::asJsonObject)
                .filter(e -> e.getString("action").equals("WEIGHTS_CHANGED"))
                .map(e -> e.getString("reason"))
                .toList();
        assertEquals(2, steps.size(), steps::toString);
        assertTrue(steps.get(0).startsWith("canary step 20% -> 60%"), steps::toString);
        assertTrue(steps.get(1).startsWith("canary step 60% -> 100%"), steps::toString);
        // At 100% every plain request is served by the candidate.
        for (int i = 0; i < 5; i++) assertEquals("1.1.0", version(complete(server, model, 2, "u" + i)));
    }

    private static int candidateWeight(JsonObject experiment) {
        return experiment.getJsonArray("variants").stream()
                .map(JsonValue::asJsonObject)
                .filter(v -> !v.getBoolean("control"))
                .findFirst()
                .orElseThrow()
                .getInt("weightPercent");
    }

    @Test
    void shadowOutputNeverReachesTheCallerAndIsComparedInTheResults(AnvilServer server) {
        // One loaded version for all three variants (see sharedModel); the shadows differ from the control by their
        // parameters.
        model = sharedModel(server);
        String name = "shadow-route-" + suffix;
        createAndStart(
                server,
                Json.createObjectBuilder()
                        .add("name", name)
                        .add("model", model)
                        .add("strategy", "SHADOW")
                        .add("primaryMetric", "latency_ms")
                        .add("minimumSample", 3)
                        .add(
                                "variants",
                                Json.createArrayBuilder()
                                        .add(variant("live", "1.0.0", 100, true).add("temperature", 0))
                                        .add(variant("twin", "1.0.0", 0, false).add("temperature", 0))
                                        .add(variant("short", "1.0.0", 0, false)
                                                .add("temperature", 0)
                                                .add("maxTokens", 3)))
                        .build());
        int requests = 6;
        for (int i = 0; i < requests; i++) {
            HttpResult r = complete(server, model, 12, "shadow-user-" + i);
            assertEquals("1.0.0", version(r), "the control answers every request");
            JsonObject choice = r.json().getJsonArray("choices").getJsonObject(0);
            assertEquals(1, r.json().getJsonArray("choices").size(), "one answer: the shadows' are not returned");
            assertEquals(
                    12,
                    r.json().getJsonObject("usage").getInt("completion_tokens"),
                    "the caller's max_tokens, not the shadow's 3");
            assertEquals("length", choice.getString("finish_reason"));
        }
        JsonObject results = poll(
                () -> results(server, name),
                r -> r.getJsonArray("shadow").size() == 2
                        && r.getJsonArray("shadow").stream()
                                .allMatch(s -> s.asJsonObject()
                                                .getJsonNumber("comparisons")
                                                .longValue()
                                        == requests)
                        && variantResult(r, "live").getJsonNumber("outcomes").longValue() == requests,
                Duration.ofSeconds(60),
                "every shadow copy compared and every live outcome written");
        Map<String, JsonObject> shadow = new HashMap<>();
        for (JsonValue v : results.getJsonArray("shadow"))
            shadow.put(v.asJsonObject().getString("variant"), v.asJsonObject());
        // The twin runs the same weights greedily on the same input: it agrees every time.
        assertEquals(
                1.0,
                shadow.get("twin")
                        .getJsonObject("agreement")
                        .getJsonNumber("rate")
                        .doubleValue());
        assertEquals(
                0.0,
                shadow.get("twin").getJsonNumber("meanCompletionTokensDelta").doubleValue());
        // The short shadow stops after 3 tokens: shorter, never in exact agreement.
        assertEquals(0, shadow.get("short").getJsonObject("agreement").getInt("count"));
        assertEquals(
                3 - 12,
                shadow.get("short").getJsonNumber("meanCompletionTokensDelta").doubleValue());
        assertEquals(0, shadow.get("short").getJsonNumber("shadowErrors").longValue());
        assertNotNull(shadow.get("short").get("meanLatencyDeltaMs"));
        assertEquals(
                requests,
                variantResult(results, "live").getJsonNumber("outcomes").longValue(),
                "the control's live outcomes");
        assertEquals(
                0,
                variantResult(results, "short").getJsonNumber("outcomes").longValue(),
                "shadows serve no live outcome");
        assertTrue(
                ServerMetrics.all(server)
                        .contains("anvil_experiment_shadow_requests_total", "variant=\"short\"", "outcome=\"ok\""),
                "shadow counters in /metrics");
    }

    @Test
    void blueGreenSwitchIsImmediateAndReversible(AnvilServer server) {
        register(server, model, "1.0.0", "2.0.0", "3.0.0");
        promote(server, model, "1.0.0");
        String switchPath = "/api/registry/models/" + model + "/switch";

        HttpResult toGreen = post(server, switchPath, "{\"version\":\"2.0.0\",\"reason\":\"release 2\"}");
        assertEquals(200, toGreen.status(), toGreen::toString);
        assertEquals("2.0.0", toGreen.json().getString("serving"));
        assertEquals("1.0.0", toGreen.json().getString("standby"));
        // Atomic: the very next request is served by the new version, no reload wait.
        assertEquals("2.0.0", version(complete(server, model, 2, null)));
        assertEquals(
                "STAGING",
                server.get("/api/registry/models/" + model + "/versions/1.0.0")
                        .json()
                        .getString("stage"));
        assertEquals(
                "PRODUCTION",
                server.get("/api/registry/models/" + model + "/versions/2.0.0")
                        .json()
                        .getString("stage"));
        assertEquals("2.0.0", server.get("/api/registry/models/" + model).json().getString("productionVersion"));

        HttpResult back = post(server, switchPath, "{\"version\":\"1.0.0\",\"reason\":\"roll back release 2\"}");
        assertEquals(200, back.status(), back::toString);
        assertEquals("2.0.0", back.json().getString("standby"));
        assertEquals("1.0.0", version(complete(server, model, 2, null)));
        assertEquals(
                "STAGING",
                server.get("/api/registry/models/" + model + "/versions/2.0.0")
                        .json()
                        .getString("stage"));

        assertError(post(server, switchPath, "{\"version\":\"1.0.0\"}"), 409, "already_production");
        assertError(post(server, switchPath, "{\"version\":\"9.9.9\"}"), 404, "version_not_loadable");
        assertError(post(server, switchPath, "{}"), 400, "missing_version");
        assertEquals(
                200,
                post(server, "/api/registry/models/" + model + "/versions/3.0.0/stage", "{\"stage\":\"ARCHIVED\"}")
                        .status());
        HttpResult archived = post(server, switchPath, "{\"version\":\"3.0.0\"}");
        assertEquals(409, archived.status(), archived::toString);
        assertTrue(
                archived.json().getJsonObject("error").getString("message").contains("ARCHIVED"), archived::toString);
        assertEquals("1.0.0", version(complete(server, model, 2, null)), "refused switches change nothing");
    }
}
