package dev.anvil.it.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import dev.anvil.it.TestModel;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The experiments API against the real server and database of this run (H2 or PostgreSQL). Each test registers
 * a model of its own (the repository's stories260K file under several versions) and names its experiments
 * uniquely, so tests and the two database runs never interfere.
 */
@ExtendWith(AnvilServerExtension.class)
class ExperimentIT {

    private static final String EXPERIMENTS = "/api/experiments";
    private static final Map<String, String> JSON =
            Map.of("Content-Type", "application/json", "Authorization", AnvilServer.basicAuth("alice"));

    private String model;
    private String suffix;

    @BeforeEach
    void names(TestInfo info) {
        suffix = Long.toString(System.nanoTime(), 36);
        model = "exp-" + info.getTestMethod().orElseThrow().getName() + "-" + suffix;
    }

    // --- helpers -----------------------------------------------------------------------------------

    private void register(AnvilServer server, String... versions) {
        TestModel.register(server, model, versions);
    }

    private static String variant(String name, String version, int weight, boolean control) {
        return Json.createObjectBuilder()
                .add("name", name)
                .add("modelVersion", version)
                .add("weightPercent", weight)
                .add("control", control)
                .add("temperature", 0.7)
                .build()
                .toString();
    }

    private String experiment(String name, String strategy, String metric, int minimumSample, String... variants) {
        JsonArrayBuilder list = Json.createArrayBuilder();
        for (String v : variants)
            list.add(Json.createReader(new java.io.StringReader(v)).readObject());
        return Json.createObjectBuilder()
                .add("name", name)
                .add("model", model)
                .add("strategy", strategy)
                .add("hypothesis", "the candidate is no worse")
                .add("primaryMetric", metric)
                .add("maxErrorRate", 0.2)
                .add("minimumSample", minimumSample)
                .add("variants", list)
                .build()
                .toString();
    }

    private static HttpResult post(AnvilServer server, String path, String body) {
        return server.request("POST", path, body, JSON);
    }

    private JsonObject createAndStart(
            AnvilServer server, String name, String metric, int minimumSample, int controlWeight) {
        register(server, "1.0.0", "1.1.0");
        HttpResult created = post(
                server,
                EXPERIMENTS,
                experiment(
                        name,
                        "AB",
                        metric,
                        minimumSample,
                        variant("control", "1.0.0", controlWeight, true),
                        variant("candidate", "1.1.0", 100 - controlWeight, false)));
        assertEquals(201, created.status(), created::toString);
        HttpResult started = server.request(
                "POST",
                EXPERIMENTS + "/" + name + "/start",
                null,
                Map.of("Authorization", AnvilServer.basicAuth("alice")));
        assertEquals(200, started.status(), started::toString);
        return started.json();
    }

    private static void assertError(HttpResult r, int status, String code) {
        assertEquals(status, r.status(), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        assertNotNull(error, r::toString);
        assertEquals(code, error.getString("code"), r::toString);
        assertFalse(error.getString("message").isBlank(), r::toString);
    }

    private static List<String> actions(JsonObject experiment) {
        return experiment.getJsonArray("events").stream()
                .map(e -> e.asJsonObject().getString("action"))
                .toList();
    }

    // --- tests -------------------------------------------------------------------------------------

    @Test
    void lifecycleRecordsEventsAndRefusesIllegalTransitions(AnvilServer server) {
        String name = "life-" + suffix;
        JsonObject started = createAndStart(server, name, "error_rate", 10, 50);
        assertEquals("RUNNING", started.getString("status"));
        assertNotNull(started.getString("startedAt"));

        HttpResult paused = post(server, EXPERIMENTS + "/" + name + "/pause", "{\"reason\":\"looking at a spike\"}");
        assertEquals(200, paused.status(), paused::toString);
        assertEquals("PAUSED", paused.json().getString("status"));
        assertError(post(server, EXPERIMENTS + "/" + name + "/pause", "{}"), 409, "illegal_transition");

        assertEquals(
                200, post(server, EXPERIMENTS + "/" + name + "/resume", "{}").status());
        HttpResult completed =
                post(server, EXPERIMENTS + "/" + name + "/complete", "{\"reason\":\"candidate is as good\"}");
        assertEquals(200, completed.status(), completed::toString);
        JsonObject done = completed.json();
        assertEquals("COMPLETED", done.getString("status"));
        assertEquals("candidate is as good", done.getString("endReason"));
        assertEquals(List.of("CREATED", "STARTED", "PAUSED", "RESUMED", "COMPLETED"), actions(done));
        JsonObject pauseEvent = done.getJsonArray("events").getJsonObject(2);
        assertEquals("RUNNING", pauseEvent.getString("from"));
        assertEquals("PAUSED", pauseEvent.getString("to"));
        assertEquals("alice", pauseEvent.getString("actor")); // the authenticated admin
        assertEquals("looking at a spike", pauseEvent.getString("reason"));

        assertError(post(server, EXPERIMENTS + "/" + name + "/start", "{}"), 409, "illegal_transition");
        assertError(
                post(server, EXPERIMENTS + "/" + name + "/rollback", "{\"reason\":\"too late\"}"),
                409,
                "illegal_transition");
        assertError(
                server.request(
                        "PUT",
                        EXPERIMENTS + "/" + name + "/weights",
                        "{\"weights\":{\"control\":100,\"candidate\":0}}",
                        JSON),
                409,
                "illegal_transition");

        HttpResult fetched = server.get(EXPERIMENTS + "/" + name);
        assertEquals(200, fetched.status());
        assertEquals(
                done.getJsonArray("events").size(),
                fetched.json().getJsonArray("events").size(),
                "refusals wrote nothing");
        assertTrue(server.get(EXPERIMENTS).json().getJsonArray("data").stream()
                .anyMatch(e -> e.asJsonObject().getString("name").equals(name)));
        assertError(server.get(EXPERIMENTS + "/no-such-" + suffix), 404, "experiment_not_found");
    }

    @Test
    void rollbackNeedsReasonAndEndsExperiment(AnvilServer server) {
        String name = "rb-" + suffix;
        createAndStart(server, name, "latency_ms", 10, 90);
        assertError(post(server, EXPERIMENTS + "/" + name + "/rollback", "{}"), 400, "invalid_reason");
        HttpResult rolled =
                post(server, EXPERIMENTS + "/" + name + "/rollback", "{\"reason\":\"p95 latency doubled\"}");
        assertEquals(200, rolled.status(), rolled::toString);
        assertEquals("ROLLED_BACK", rolled.json().getString("status"));
        assertEquals("p95 latency doubled", rolled.json().getString("endReason"));
        assertError(server.get(EXPERIMENTS + "/" + name + "/assignment?key=u1"), 409, "experiment_not_running");
    }

    @Test
    void creationChecksWeightsControlAndModelVersions(AnvilServer server) {
        register(server, "1.0.0", "1.1.0", "0.9.0");
        HttpResult archived = server.request(
                "POST",
                "/api/registry/models/" + model + "/versions/0.9.0/stage",
                "{\"stage\":\"ARCHIVED\",\"reason\":\"old\"}",
                JSON);
        assertEquals(200, archived.status(), archived::toString);

        assertError(
                post(
                        server,
                        EXPERIMENTS,
                        experiment(
                                "w-" + suffix,
                                "AB",
                                "error_rate",
                                10,
                                variant("control", "1.0.0", 50, true),
                                variant("candidate", "1.1.0", 40, false))),
                400,
                "invalid_weights");
        assertError(
                post(
                        server,
                        EXPERIMENTS,
                        experiment(
                                "v-" + suffix,
                                "AB",
                                "error_rate",
                                10,
                                variant("control", "1.0.0", 50, true),
                                variant("candidate", "9.9.9", 50, false))),
                400,
                "unknown_model_version");
        assertError(
                post(
                        server,
                        EXPERIMENTS,
                        experiment(
                                "a-" + suffix,
                                "AB",
                                "error_rate",
                                10,
                                variant("control", "1.0.0", 50, true),
                                variant("candidate", "0.9.0", 50, false))),
                409,
                "model_version_archived");
        assertError(
                post(
                        server,
                        EXPERIMENTS,
                        experiment(
                                "c-" + suffix,
                                "AB",
                                "error_rate",
                                10,
                                variant("control", "1.0.0", 50, true),
                                variant("candidate", "1.1.0", 50, true))),
                400,
                "invalid_variants_control");
        assertError(
                post(
                        server,
                        EXPERIMENTS,
                        experiment(
                                "s-" + suffix,
                                "NOPE",
                                "error_rate",
                                10,
                                variant("control", "1.0.0", 50, true),
                                variant("candidate", "1.1.0", 50, false))),
                400,
                "invalid_strategy");
        assertError(post(server, EXPERIMENTS, "{\"name\":"), 400, "invalid_json");

        String ok = experiment(
                "ok-" + suffix,
                "AB",
                "error_rate",
                10,
                variant("control", "1.0.0", 50, true),
                variant("candidate", "1.1.0", 50, false));
        HttpResult created = post(server, EXPERIMENTS, ok);
        assertEquals(201, created.status(), created::toString);
        assertEquals("DRAFT", created.json().getString("status"));
        assertTrue(created.headers().toString().contains(EXPERIMENTS + "/ok-" + suffix), created::toString);
        assertError(post(server, EXPERIMENTS, ok), 409, "experiment_exists");
        assertError(server.get(EXPERIMENTS + "/ok-" + suffix + "/assignment?key=u1"), 409, "experiment_not_running");
    }

    @Test
    void assignmentIsStickyOverHttp(AnvilServer server) {
        String name = "sticky-" + suffix;
        createAndStart(server, name, "error_rate", 10, 50);
        Map<String, String> first = new HashMap<>();
        for (int i = 0; i < 40; i++) {
            String key = "user-" + i;
            HttpResult r = server.get(
                    EXPERIMENTS + "/" + name + "/assignment?key=" + URLEncoder.encode(key, StandardCharsets.UTF_8));
            assertEquals(200, r.status(), r::toString);
            assertTrue(r.json().getBoolean("newAssignment"), r::toString);
            first.put(key, r.json().getJsonObject("variant").getString("name"));
        }
        assertEquals(
                Set.of("control", "candidate"),
                new HashSet<>(first.values()),
                "a 50/50 split of 40 keys uses both variants");

        // Send all new traffic to the control: subjects already assigned keep their variant.
        HttpResult weights = server.request(
                "PUT",
                EXPERIMENTS + "/" + name + "/weights",
                "{\"weights\":{\"control\":100,\"candidate\":0},\"reason\":\"hold\"}",
                JSON);
        assertEquals(200, weights.status(), weights::toString);
        assertEquals(
                "WEIGHTS_CHANGED",
                actions(weights.json()).get(actions(weights.json()).size() - 1));
        for (Map.Entry<String, String> e : first.entrySet()) {
            HttpResult again = server.get(EXPERIMENTS + "/" + name + "/assignment?key=" + e.getKey());
            assertEquals(200, again.status(), again::toString);
            assertFalse(again.json().getBoolean("newAssignment"));
            assertEquals(e.getValue(), again.json().getJsonObject("variant").getString("name"), e.getKey());
        }
        for (int i = 100; i < 110; i++) {
            HttpResult fresh = server.get(EXPERIMENTS + "/" + name + "/assignment?key=new-" + i);
            assertEquals("control", fresh.json().getJsonObject("variant").getString("name"), fresh::toString);
            assertEquals("1.0.0", fresh.json().getJsonObject("variant").getString("modelVersion"));
        }
        assertError(server.get(EXPERIMENTS + "/" + name + "/assignment"), 400, "missing_key");
        assertError(
                server.request(
                        "PUT",
                        EXPERIMENTS + "/" + name + "/weights",
                        "{\"weights\":{\"control\":70,\"candidate\":20}}",
                        JSON),
                400,
                "invalid_weights");

        HttpResult results = server.get(EXPERIMENTS + "/" + name + "/results");
        long assigned = results.json().getJsonArray("variants").stream()
                .mapToLong(v -> v.asJsonObject().getJsonNumber("assignments").longValue())
                .sum();
        assertEquals(50, assigned, results::toString);
    }

    @Test
    void anAnonymousResponseIsRatedOnlyByItsSubjectAndALaterRatingReplacesTheFirst(AnvilServer server) {
        String user = "u-" + suffix;
        HttpResult served = server.post(
                "/v1/completions",
                Json.createObjectBuilder()
                        .add("model", "stories260k")
                        .add("prompt", "Once upon a time")
                        .add("max_tokens", 2)
                        .add("user", user)
                        .build()
                        .toString());
        assertEquals(200, served.status(), served::toString);
        String id = served.json().getString("id");

        assertError(
                server.request(
                        "POST",
                        "/v1/feedback",
                        "{\"response_id\":\"" + id + "\",\"rating\":-1}",
                        Map.of("Content-Type", "application/json", "X-Anvil-User", "v-" + suffix)),
                403,
                "response_not_yours");
        // Without a subject key the caller is its network address: not the subject the response went to.
        assertError(
                server.post("/v1/feedback", "{\"response_id\":\"" + id + "\",\"rating\":-1}"),
                403,
                "response_not_yours");

        HttpResult first =
                server.post("/v1/feedback", "{\"response_id\":\"" + id + "\",\"rating\":-1,\"user\":\"" + user + "\"}");
        assertEquals(201, first.status(), first::toString);
        assertTrue(first.json().getBoolean("negative"));
        HttpResult second = server.request(
                "POST",
                "/v1/feedback",
                "{\"response_id\":\"" + id + "\",\"rating\":1}",
                Map.of("Content-Type", "application/json", "X-Anvil-User", user));
        assertEquals(201, second.status(), second::toString);
        assertEquals(
                first.json().getJsonNumber("id").longValue(),
                second.json().getJsonNumber("id").longValue(),
                "one rating per response: the second replaces the first");
        assertFalse(second.json().getBoolean("negative"));

        // A response to a caller without a subject key belongs to its address: the same client may rate it.
        HttpResult byAddress =
                server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"Once\",\"max_tokens\":2}");
        assertEquals(200, byAddress.status(), byAddress::toString);
        HttpResult rated = server.post(
                "/v1/feedback", "{\"response_id\":\"" + byAddress.json().getString("id") + "\",\"rating\":0}");
        assertEquals(201, rated.status(), rated::toString);
        assertError(
                server.request(
                        "POST",
                        "/v1/feedback",
                        "{\"response_id\":\"" + byAddress.json().getString("id") + "\",\"rating\":0}",
                        Map.of("Content-Type", "application/json", "X-Anvil-User", user)),
                403,
                "response_not_yours");
    }

    @Test
    void outcomesAndFeedbackFeedResults(AnvilServer server) {
        String name = "results-" + suffix;
        createAndStart(server, name, "error_rate", 5, 50);
        for (int i = 0; i < 10; i++) {
            // Control fails 4 of 10 requests, the candidate 1 of 10.
            for (String variant : List.of("control", "candidate")) {
                boolean error = variant.equals("control") ? i < 4 : i < 1;
                String body = Json.createObjectBuilder()
                        .add("responseId", "resp-" + suffix + "-" + variant + "-" + i)
                        .add("variant", variant)
                        .add("latencyMs", 100 + 10 * i)
                        .add("ttftMs", 20 + i)
                        .add("promptTokens", 12)
                        .add("completionTokens", 30)
                        .add("error", error)
                        .add("cost", 0.001)
                        .build()
                        .toString();
                HttpResult r = post(server, EXPERIMENTS + "/" + name + "/outcomes", body);
                assertEquals(201, r.status(), r::toString);
            }
        }
        String duplicate = "{\"responseId\":\"resp-" + suffix + "-control-0\",\"variant\":\"control\",\"latencyMs\":5}";
        assertError(post(server, EXPERIMENTS + "/" + name + "/outcomes", duplicate), 409, "outcome_exists");
        assertError(
                post(
                        server,
                        EXPERIMENTS + "/" + name + "/outcomes",
                        "{\"responseId\":\"x-" + suffix + "\",\"variant\":\"nope\",\"latencyMs\":5}"),
                400,
                "unknown_variant");

        // These outcomes were recorded through the admin API (a gateway's or an offline evaluation's): an admin rates
        // them.
        HttpResult feedback = post(
                server,
                "/v1/feedback",
                "{\"response_id\":\"resp-" + suffix + "-candidate-3\",\"rating\":-1,\"comment\":\"wrong\"}");
        assertEquals(201, feedback.status(), feedback::toString);
        assertEquals(name, feedback.json().getString("experiment"));
        assertEquals("candidate", feedback.json().getString("variant"));
        assertTrue(feedback.json().getBoolean("negative"));
        HttpResult stars = post(
                server,
                "/v1/feedback",
                "{\"response_id\":\"resp-" + suffix + "-control-5\",\"rating\":5,\"scale\":\"stars\"}");
        assertEquals(201, stars.status(), stars::toString);
        HttpResult unrelated =
                post(server, "/v1/feedback", "{\"response_id\":\"chatcmpl-outside-" + suffix + "\",\"rating\":1}");
        assertEquals(201, unrelated.status(), unrelated::toString);
        assertEquals(JsonValue.NULL, unrelated.json().get("experiment"));
        // Anyone else may rate only responses served to them: these ids were never served.
        assertError(
                server.post("/v1/feedback", "{\"response_id\":\"resp-" + suffix + "-candidate-4\",\"rating\":-1}"),
                404,
                "response_not_found");
        assertError(server.post("/v1/feedback", "{\"response_id\":\"r\",\"rating\":7}"), 400, "invalid_rating");
        assertError(server.post("/v1/feedback", "{\"rating\":1}"), 400, "invalid_response_id");

        HttpResult results = server.get(EXPERIMENTS + "/" + name + "/results");
        assertEquals(200, results.status(), results::toString);
        JsonObject body = results.json();
        assertEquals("error_rate", body.getString("primaryMetric"));
        JsonObject control = body.getJsonArray("variants").getJsonObject(0);
        JsonObject candidate = body.getJsonArray("variants").getJsonObject(1);
        assertEquals("control", control.getString("name"));
        assertEquals(10, control.getInt("outcomes"));
        assertEquals(
                0.4, control.getJsonObject("errorRate").getJsonNumber("rate").doubleValue(), 1e-9);
        double low = control.getJsonObject("errorRate").getJsonNumber("ciLow").doubleValue();
        double high = control.getJsonObject("errorRate").getJsonNumber("ciHigh").doubleValue();
        assertTrue(low < 0.4 && 0.4 < high, "Wilson interval around 4/10: " + control);
        assertEquals(
                List.of("error rate 40.00% exceeds the limit of 20.00%"),
                control.getJsonArray("guardrailBreaches").getValuesAs(jakarta.json.JsonString::getString));
        assertEquals(145.0, control.getJsonNumber("latencyP50Ms").doubleValue(), 1e-9);
        assertEquals(1, candidate.getJsonObject("negativeFeedbackRate").getInt("count"));
        assertEquals(0.01, candidate.getJsonNumber("totalCost").doubleValue(), 1e-9);
        assertEquals(300, candidate.getInt("completionTokens"));

        JsonObject comparison = body.getJsonArray("comparisons").getJsonObject(0);
        assertEquals("candidate", comparison.getString("variant"));
        assertEquals("two-proportion z-test", comparison.getString("test"));
        // 1/10 vs 4/10: pooled p = 0.25, z = -0.3 / sqrt(0.25 * 0.75 * 0.2) = -1.549, two-sided p = 0.1213.
        assertEquals(-1.5491933384829668, comparison.getJsonNumber("statistic").doubleValue(), 1e-9);
        assertEquals(0.1213, comparison.getJsonNumber("pValue").doubleValue(), 1e-4);
        assertFalse(comparison.getBoolean("significant"));
        assertTrue(
                comparison.getString("verdict").startsWith("No significant difference in error rate"),
                comparison::toString);
    }

    @Test
    void everyOperationIsInTheOpenApiDocument(AnvilServer server) {
        HttpResult openapi = server.request("GET", "/openapi", null, Map.of("Accept", "application/json"));
        assertEquals(200, openapi.status(), openapi::toString);
        JsonObject paths = openapi.json().getJsonObject("paths");
        for (String path : List.of(
                "/api/experiments",
                "/api/experiments/{name}",
                "/api/experiments/{name}/start",
                "/api/experiments/{name}/pause",
                "/api/experiments/{name}/resume",
                "/api/experiments/{name}/complete",
                "/api/experiments/{name}/rollback",
                "/api/experiments/{name}/weights",
                "/api/experiments/{name}/rebalance",
                "/api/experiments/{name}/results",
                "/api/experiments/{name}/assignment",
                "/api/experiments/{name}/outcomes",
                "/v1/feedback")) {
            assertTrue(paths.containsKey(path), "missing " + path + " in " + paths.keySet());
        }
        JsonObject schemas = openapi.json().getJsonObject("components").getJsonObject("schemas");
        for (String schema : List.of(
                "Experiment",
                "ExperimentResults",
                "ExperimentComparison",
                "ExperimentAssignment",
                "CreateExperimentRequest",
                "FeedbackRequest",
                "Feedback")) {
            assertTrue(schemas.containsKey(schema), "missing schema " + schema + " in " + schemas.keySet());
        }
        assertTrue(
                schemas.getJsonObject("FeedbackRequest")
                        .getJsonObject("properties")
                        .containsKey("response_id"),
                schemas::toString);
    }

    @Test
    void banditRebalanceFollowsOutcomes(AnvilServer server) {
        register(server, "1.0.0", "1.1.0");
        String name = "bandit-" + suffix;
        HttpResult created = post(
                server,
                EXPERIMENTS,
                experiment(
                        name,
                        "BANDIT",
                        "error_rate",
                        5,
                        variant("control", "1.0.0", 50, true),
                        variant("candidate", "1.1.0", 50, false)));
        assertEquals(201, created.status(), created::toString);
        assertEquals(
                200, post(server, EXPERIMENTS + "/" + name + "/start", "{}").status());
        for (int i = 0; i < 40; i++) {
            // The control fails half its requests, the candidate none.
            for (String variant : List.of("control", "candidate")) {
                String body = Json.createObjectBuilder()
                        .add("responseId", "b-" + suffix + "-" + variant + "-" + i)
                        .add("variant", variant)
                        .add("latencyMs", 50)
                        .add("error", variant.equals("control") && i % 2 == 0)
                        .build()
                        .toString();
                assertEquals(
                        201,
                        post(server, EXPERIMENTS + "/" + name + "/outcomes", body)
                                .status());
            }
        }
        HttpResult rebalanced = post(server, EXPERIMENTS + "/" + name + "/rebalance", "{}");
        assertEquals(200, rebalanced.status(), rebalanced::toString);
        JsonObject control = rebalanced.json().getJsonArray("variants").getJsonObject(0);
        JsonObject candidate = rebalanced.json().getJsonArray("variants").getJsonObject(1);
        // 40/40 successes against 20/40: the candidate is best in essentially every posterior draw; the control keeps
        // the 5% floor.
        assertEquals(5, control.getInt("weightPercent"), rebalanced::toString);
        assertEquals(95, candidate.getInt("weightPercent"), rebalanced::toString);
        JsonObject results = server.get(EXPERIMENTS + "/" + name + "/results").json();
        assertEquals(
                List.of(5, 95),
                results.getJsonArray("banditAllocation").getValuesAs(jakarta.json.JsonNumber::intValue));
        assertError(post(server, EXPERIMENTS + "/other-" + suffix + "/rebalance", "{}"), 404, "experiment_not_found");
    }

    @Test
    void concurrentFirstLookupsOfOneKeyAgreeAndRecordOneAssignment(AnvilServer server) throws Exception {
        String name = "race-" + suffix;
        createAndStart(server, name, "error_rate", 10, 50);
        int threads = 8;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            List<java.util.concurrent.Future<HttpResult>> answers = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                answers.add(pool.submit(() -> {
                    go.await();
                    return server.get(EXPERIMENTS + "/" + name + "/assignment?key=racer");
                }));
            }
            go.countDown();
            Set<String> variants = new HashSet<>();
            int created = 0;
            for (java.util.concurrent.Future<HttpResult> f : answers) {
                HttpResult r = f.get(60, java.util.concurrent.TimeUnit.SECONDS);
                assertEquals(200, r.status(), r::toString);
                variants.add(r.json().getJsonObject("variant").getString("name"));
                if (r.json().getBoolean("newAssignment")) created++;
            }
            assertEquals(1, variants.size(), "every racer sees the same variant: " + variants);
            assertEquals(1, created, "exactly one request recorded the assignment");
        } finally {
            pool.shutdownNow();
        }
        HttpResult results = server.get(EXPERIMENTS + "/" + name + "/results");
        long assigned = results.json().getJsonArray("variants").stream()
                .mapToLong(v -> v.asJsonObject().getJsonNumber("assignments").longValue())
                .sum();
        assertEquals(1, assigned, results::toString);
    }

    @Test
    void canaryStartsAtFirstStepAndShadowServesFromControl(AnvilServer server) {
        register(server, "1.0.0", "1.1.0");
        String canary = "canary-" + suffix;
        String canaryBody = Json.createObjectBuilder()
                .add("name", canary)
                .add("model", model)
                .add("strategy", "CANARY")
                .add("primaryMetric", "latency_ms")
                .add("canarySteps", "5,25,100")
                .add(
                        "variants",
                        Json.createArrayBuilder()
                                .add(Json.createReader(new java.io.StringReader(variant("stable", "1.0.0", 100, true)))
                                        .readObject())
                                .add(Json.createReader(new java.io.StringReader(variant("next", "1.1.0", 0, false)))
                                        .readObject()))
                .build()
                .toString();
        assertEquals(201, post(server, EXPERIMENTS, canaryBody).status());
        JsonObject started =
                post(server, EXPERIMENTS + "/" + canary + "/start", "{}").json();
        assertEquals(
                List.of(5, 25, 100),
                started.getJsonArray("canarySteps").getValuesAs(jakarta.json.JsonNumber::intValue));
        assertEquals(95, started.getJsonArray("variants").getJsonObject(0).getInt("weightPercent"), started::toString);
        assertEquals(5, started.getJsonArray("variants").getJsonObject(1).getInt("weightPercent"), started::toString);
        assertError(
                post(server, EXPERIMENTS, canaryBody.replace("5,25,100", "25,5").replace(canary, canary + "-bad")),
                400,
                "invalid_canary_steps");

        String shadow = "shadow-" + suffix;
        assertError(
                post(
                        server,
                        EXPERIMENTS,
                        experiment(
                                shadow,
                                "SHADOW",
                                "latency_ms",
                                10,
                                variant("control", "1.0.0", 50, true),
                                variant("copy", "1.1.0", 50, false))),
                400,
                "invalid_weights");
        assertEquals(
                201,
                post(
                                server,
                                EXPERIMENTS,
                                experiment(
                                        shadow,
                                        "SHADOW",
                                        "latency_ms",
                                        10,
                                        variant("control", "1.0.0", 100, true),
                                        variant("copy", "1.1.0", 0, false)))
                        .status());
        assertEquals(
                200, post(server, EXPERIMENTS + "/" + shadow + "/start", "{}").status());
        for (int i = 0; i < 5; i++) {
            JsonObject a = server.get(EXPERIMENTS + "/" + shadow + "/assignment?key=s" + i)
                    .json();
            assertEquals("control", a.getJsonObject("variant").getString("name"), a::toString);
            assertEquals(
                    List.of("copy"), a.getJsonArray("shadowVariants").getValuesAs(jakarta.json.JsonString::getString));
        }
    }
}
