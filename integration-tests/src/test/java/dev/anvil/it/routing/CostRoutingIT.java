package dev.anvil.it.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerMetrics;
import dev.anvil.it.ServerProfile;
import dev.anvil.it.TestModel;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Cost-aware routers end to end, on the server that requires API keys and prices stories260k (0.5 / 1.5 per 1000
 * prompt / completion tokens) and {@value AnvilServer#ROUTING_LARGE_MODEL} (5 / 15; the same stories260K file
 * registered under another name and promoted, so the two candidates differ only in price): rule routing by prompt
 * length, max_tokens, latency budget and tenant policy; a cascade escalating when the small model's mean
 * log-probability is below a threshold it cannot reach, when a {@code json_object} answer is not JSON, and when the
 * tenant's output guardrail withholds the answer, with both attempts billed; headers, metrics and the usage
 * report's savings; 400s for bad definitions; the admin API's access rules. Every test defines its own router and
 * tenant, so their counts do not mix.
 */
@ExtendWith(AnvilServerExtension.class)
@ServerProfile(AnvilServer.Profile.API_KEYS_REQUIRED)
class CostRoutingIT {

    private static final String SMALL = "stories260k";
    private static final String LARGE = AnvilServer.ROUTING_LARGE_MODEL;
    private static final String SHORT = "Once upon a time";
    private static final String LONG = "Once upon a time there was a little girl who lived in a small house near the"
            + " forest with her mother and her father and her dog and her cat and they were all very happy together";

    private static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** The large candidate, registered and in PRODUCTION once per server. */
    private static synchronized void largeModelServed(AnvilServer server) {
        if (server.get("/api/registry/models/" + LARGE).status() == 200) return;
        TestModel.register(server, LARGE, "1.0.0");
        TestModel.moveStage(server, LARGE, "1.0.0", "PRODUCTION", "cost routing test");
    }

    private static HttpResult define(AnvilServer server, String name, JsonObject definition) {
        return server.request(
                "PUT", "/api/routers/" + name, definition.toString(), Map.of("Content-Type", "application/json"));
    }

    private static JsonObject candidate(String model, Integer maxPromptTokens, Integer maxMaxTokens, Integer ttftMs) {
        var c = Json.createObjectBuilder().add("model", model);
        if (maxPromptTokens != null) c.add("maxPromptTokens", maxPromptTokens);
        if (maxMaxTokens != null) c.add("maxMaxTokens", maxMaxTokens);
        if (ttftMs != null) c.add("expectedTtftMs", ttftMs);
        return c.build();
    }

    /** A router of the small (prompts up to 12 tokens, max_tokens up to 16) and the large model. */
    private static String router(AnvilServer server, JsonObject cascade, JsonArrayBuilder tenants, Integer largeTtft) {
        largeModelServed(server);
        String name = unique("auto");
        var body = Json.createObjectBuilder()
                .add(
                        "candidates",
                        Json.createArrayBuilder()
                                .add(candidate(SMALL, 12, 16, null))
                                .add(candidate(LARGE, null, null, largeTtft)));
        if (tenants != null) body.add("tenants", tenants);
        if (cascade != null) body.add("cascade", cascade);
        HttpResult r = define(server, name, body.build());
        assertEquals(200, r.status(), r::toString);
        return name;
    }

    /** A fresh tenant and a key for it scoped to {@code models} (null: all); returns {tenant, secret}. */
    private static String[] tenantKey(AnvilServer server, List<String> models) {
        return tenantKey(server, models, null);
    }

    private static String[] tenantKey(AnvilServer server, List<String> models, Integer tokenBudget) {
        String tenant = unique("rt");
        var settings = Json.createObjectBuilder().add("name", tenant);
        if (tokenBudget != null) settings.add("tokenBudget", tokenBudget).add("budgetPeriod", "DAY");
        HttpResult t = server.post("/api/gateway/tenants", settings.build().toString());
        assertEquals(201, t.status(), t::toString);
        var key = Json.createObjectBuilder().add("name", "k");
        if (models != null) {
            JsonArrayBuilder a = Json.createArrayBuilder();
            models.forEach(a::add);
            key.add("allowedModels", a);
        }
        HttpResult k = server.post(
                "/api/gateway/tenants/" + tenant + "/keys", key.build().toString());
        assertEquals(201, k.status(), k::toString);
        return new String[] {tenant, k.json().getString("key")};
    }

    private static HttpResult complete(
            AnvilServer server, String secret, String model, String prompt, int maxTokens, Map<String, String> extra) {
        Map<String, String> headers = new HashMap<>(extra);
        headers.put("Content-Type", "application/json");
        headers.put("Authorization", "Bearer " + secret);
        return server.request("POST", "/v1/completions", TestModel.greedyCompletion(model, prompt, maxTokens), headers);
    }

    private static String header(HttpResult r, String name) {
        return r.headers().firstValue(name).orElse(null);
    }

    private static void assertRouted(HttpResult r, String model, String reason) {
        assertEquals(200, r.status(), r::toString);
        assertEquals(model, header(r, "X-Anvil-Routed-Model"), r::toString);
        assertEquals(reason, header(r, "X-Anvil-Route-Reason"), r::toString);
        assertTrue(r.json().getString("model").startsWith(model + "@"), r::toString);
    }

    private static void assertBadRequest(HttpResult r, String messagePart) {
        assertEquals(400, r.status(), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        assertEquals("invalid_request_error", error.getString("type"), r::toString);
        assertTrue(error.getString("message").contains(messagePart), r::toString);
    }

    private static JsonObject usage(AnvilServer server, String tenant) {
        HttpResult r = server.get("/api/gateway/usage?tenant=" + tenant);
        assertEquals(200, r.status(), r::toString);
        return r.json();
    }

    private static JsonObject line(JsonObject usage, String model) {
        return usage.getJsonArray("data").stream()
                .map(JsonValue::asJsonObject)
                .filter(l -> l.getString("model").equals(model))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no usage line for " + model + ": " + usage));
    }

    private static JsonObject savings(JsonObject usage, String router) {
        return usage.getJsonArray("routers").stream()
                .map(JsonValue::asJsonObject)
                .filter(l -> l.getString("router").equals(router))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no router line for " + router + ": " + usage));
    }

    private static BigDecimal cost(BigDecimal promptPrice, BigDecimal completionPrice, JsonObject line) {
        return promptPrice
                .multiply(BigDecimal.valueOf(line.getInt("promptTokens")))
                .add(completionPrice.multiply(BigDecimal.valueOf(line.getInt("completionTokens"))))
                .divide(BigDecimal.valueOf(1000));
    }

    @Test
    void promptLengthAndMaxTokensPickTheCandidate(AnvilServer server) {
        String router = router(server, null, null, null);
        String[] key = tenantKey(server, List.of(router));
        // A router is a model name: listed for a key whose scope names it (here the key's only one).
        HttpResult listed = server.request("GET", "/v1/models", null, Map.of("Authorization", "Bearer " + key[1]));
        assertEquals(200, listed.status(), listed::toString);
        List<String> ids = listed.json().getJsonArray("data").stream()
                .map(v -> v.asJsonObject().getString("id"))
                .toList();
        assertEquals(List.of(router), ids, listed::toString);

        assertRouted(complete(server, key[1], router, SHORT, 8, Map.of()), SMALL, "cheapest");
        assertRouted(complete(server, key[1], router, LONG, 8, Map.of()), LARGE, "prompt_tokens");
        assertRouted(complete(server, key[1], router, SHORT, 32, Map.of()), LARGE, "max_tokens");

        assertEquals(
                1.0,
                ServerMetrics.sum(
                        server,
                        "anvil_router_requests_total",
                        "router=\"" + router + "\"",
                        "model=\"" + SMALL + "\"",
                        "reason=\"cheapest\""));
        assertEquals(
                1.0,
                ServerMetrics.sum(
                        server,
                        "anvil_router_requests_total",
                        "router=\"" + router + "\"",
                        "model=\"" + LARGE + "\"",
                        "reason=\"prompt_tokens\""));

        // The usage report: each model's tokens and cost, and the router's savings against sending all to LARGE.
        JsonObject usage = usage(server, key[0]);
        JsonObject small = line(usage, SMALL);
        JsonObject large = line(usage, LARGE);
        assertEquals(1, small.getInt("requests"), usage::toString);
        assertEquals(2, large.getInt("requests"), usage::toString);
        JsonObject saved = savings(usage, router);
        assertEquals(3, saved.getInt("requests"), usage::toString);
        assertEquals(0, saved.getInt("escalations"), usage::toString);
        BigDecimal actual = small.getJsonNumber("cost")
                .bigDecimalValue()
                .add(large.getJsonNumber("cost").bigDecimalValue());
        assertEquals(0, actual.compareTo(saved.getJsonNumber("cost").bigDecimalValue()), usage::toString);
        BigDecimal baseline = cost(new BigDecimal("5"), new BigDecimal("15"), small)
                .add(large.getJsonNumber("cost").bigDecimalValue());
        assertEquals(0, baseline.compareTo(saved.getJsonNumber("baselineCost").bigDecimalValue()), usage::toString);
        BigDecimal expectedSavings = baseline.subtract(actual);
        assertTrue(expectedSavings.signum() > 0, usage::toString);
        assertEquals(0, expectedSavings.compareTo(saved.getJsonNumber("savings").bigDecimalValue()), usage::toString);
        assertTrue(
                ServerMetrics.sum(server, "anvil_router_savings", "router=\"" + router + "\"") > 0,
                "savings gauge of " + router);
    }

    @Test
    void aLatencyBudgetKeepsALongPromptOffTheSlowCandidate(AnvilServer server) {
        String router = router(server, null, null, 600_000); // the large candidate's prior: ten minutes to a token
        String[] key = tenantKey(server, null);
        assertRouted(
                complete(server, key[1], router, LONG, 8, Map.of("X-Anvil-Latency-Budget-Ms", "2000")),
                SMALL,
                "latency_budget");
        assertRouted(complete(server, key[1], router, LONG, 8, Map.of()), LARGE, "prompt_tokens");
        for (String bad : List.of("soon", "0", "99999999999")) {
            HttpResult r = complete(server, key[1], router, LONG, 8, Map.of("X-Anvil-Latency-Budget-Ms", bad));
            assertBadRequest(r, "X-Anvil-Latency-Budget-Ms");
        }
    }

    @Test
    void aTenantPolicyForcesItsTier(AnvilServer server) {
        String[] premium = tenantKey(server, null);
        String router = router(
                server,
                null,
                Json.createArrayBuilder()
                        .add(Json.createObjectBuilder()
                                .add("tenant", premium[0])
                                .add("models", Json.createArrayBuilder().add(LARGE))),
                null);
        assertRouted(complete(server, premium[1], router, SHORT, 8, Map.of()), LARGE, "tenant_policy");
        String[] other = tenantKey(server, null);
        assertRouted(complete(server, other[1], router, SHORT, 8, Map.of()), SMALL, "cheapest");
        // The key's scope names models: a key without the router's name may not use it.
        String[] scoped = tenantKey(server, List.of(SMALL));
        HttpResult refused = complete(server, scoped[1], router, SHORT, 8, Map.of());
        assertEquals(403, refused.status(), refused::toString);
        assertEquals("model_not_allowed", refused.json().getJsonObject("error").getString("code"));
    }

    @Test
    void aCascadeEscalatesWhenTheSmallModelsAnswerFailsItsCheck(AnvilServer server) {
        // No answer of a tiny model has a mean token log-probability of at least -0.0001: the check always fails.
        String router = router(
                server,
                Json.createObjectBuilder()
                        .add("enabled", true)
                        .add("minMeanLogprob", -0.0001)
                        .build(),
                null,
                null);
        String[] key = tenantKey(server, null);
        double before = ServerMetrics.firstOrZero(
                server, "anvil_router_escalations_total", "router=\"" + router + "\"", "check=\"logprob\"");
        HttpResult r = complete(server, key[1], router, SHORT, 8, Map.of());
        assertEquals(200, r.status(), r::toString);
        assertEquals(LARGE, header(r, "X-Anvil-Routed-Model"), r::toString);
        assertEquals("escalated", header(r, "X-Anvil-Cascade"), r::toString);
        assertEquals("logprob", header(r, "X-Anvil-Cascade-Check"), r::toString);
        assertTrue(r.json().getString("model").startsWith(LARGE + "@"), r::toString);
        JsonObject choice = r.json().getJsonArray("choices").getJsonObject(0);
        assertTrue(!choice.containsKey("logprobs") || choice.isNull("logprobs"), r::toString);
        assertEquals(
                before + 1,
                ServerMetrics.sum(
                        server, "anvil_router_escalations_total", "router=\"" + router + "\"", "check=\"logprob\""));

        // Both attempts are billed: the small model's and the large one's usage, and the router's line.
        JsonObject usage = usage(server, key[0]);
        JsonObject small = line(usage, SMALL);
        JsonObject large = line(usage, LARGE);
        assertEquals(1, small.getInt("requests"), usage::toString);
        assertEquals(1, large.getInt("requests"), usage::toString);
        assertTrue(small.getJsonNumber("cost").bigDecimalValue().signum() > 0, usage::toString);
        JsonObject saved = savings(usage, router);
        assertEquals(1, saved.getInt("requests"), usage::toString);
        assertEquals(1, saved.getInt("escalations"), usage::toString);
        BigDecimal actual = small.getJsonNumber("cost")
                .bigDecimalValue()
                .add(large.getJsonNumber("cost").bigDecimalValue());
        assertEquals(0, actual.compareTo(saved.getJsonNumber("cost").bigDecimalValue()), usage::toString);
        assertTrue(saved.getJsonNumber("savings").bigDecimalValue().signum() < 0, usage::toString);

        // A cheap answer that passes stands: no second attempt, and the caller did not ask for logprobs.
        String lenient = router(
                server,
                Json.createObjectBuilder()
                        .add("enabled", true)
                        .add("minMeanLogprob", -100)
                        .build(),
                null,
                null);
        HttpResult passed = complete(server, key[1], lenient, SHORT, 8, Map.of());
        assertRouted(passed, SMALL, "cheapest");
        assertEquals("passed", header(passed, "X-Anvil-Cascade"), passed::toString);
        JsonObject passedChoice = passed.json().getJsonArray("choices").getJsonObject(0);
        assertTrue(!passedChoice.containsKey("logprobs") || passedChoice.isNull("logprobs"), passed::toString);

        // Streaming cannot take back what it sent: routed by the rules, never cascaded.
        HttpResult streamed = server.request(
                "POST",
                "/v1/completions",
                TestModel.greedyCompletion(router, SHORT, 8).replace("}", ",\"stream\":true}"),
                Map.of("Content-Type", "application/json", "Authorization", "Bearer " + key[1]));
        assertEquals(200, streamed.status(), streamed::toString);
        assertEquals(SMALL, header(streamed, "X-Anvil-Routed-Model"), streamed::toString);
        assertEquals("skipped", header(streamed, "X-Anvil-Cascade"), streamed::toString);
    }

    /** A cascading router of the small model (no limits) and the large one: only the cascade's checks escalate. */
    private static String cascadeRouter(AnvilServer server, JsonObject cascade) {
        largeModelServed(server);
        String name = unique("cascade");
        HttpResult r = define(
                server,
                name,
                Json.createObjectBuilder()
                        .add(
                                "candidates",
                                Json.createArrayBuilder()
                                        .add(candidate(SMALL, null, null, null))
                                        .add(candidate(LARGE, null, null, null)))
                        .add("cascade", cascade)
                        .build());
        assertEquals(200, r.status(), r::toString);
        return name;
    }

    /** The requests of {@code tenant}'s usage line for {@code model} (0 when it has none yet). */
    private static int requests(JsonObject usage, String model) {
        return usage.getJsonArray("data").stream()
                .map(JsonValue::asJsonObject)
                .filter(l -> l.getString("model").equals(model))
                .mapToInt(l -> l.getInt("requests"))
                .sum();
    }

    /**
     * Asserts the answer escalated after {@code check}: the headers, the escalation counted once, one usage row on
     * each candidate for the tenant (both attempts billed at their own model's price) and the router's line.
     */
    private static void assertEscalated(
            AnvilServer server,
            HttpResult r,
            String router,
            String check,
            String tenant,
            JsonObject usageBefore,
            double escalationsBefore) {
        assertEquals(200, r.status(), r::toString);
        assertEquals(LARGE, header(r, "X-Anvil-Routed-Model"), r::toString);
        assertEquals("cheapest", header(r, "X-Anvil-Route-Reason"), r::toString);
        assertEquals("escalated", header(r, "X-Anvil-Cascade"), r::toString);
        assertEquals(check, header(r, "X-Anvil-Cascade-Check"), r::toString);
        assertTrue(r.json().getString("model").startsWith(LARGE + "@"), r::toString);
        assertEquals(
                escalationsBefore + 1,
                ServerMetrics.sum(
                        server,
                        "anvil_router_escalations_total",
                        "router=\"" + router + "\"",
                        "check=\"" + check + "\""));
        assertEquals(
                1.0,
                ServerMetrics.sum(
                        server,
                        "anvil_router_requests_total",
                        "router=\"" + router + "\"",
                        "model=\"" + LARGE + "\"",
                        "reason=\"escalated_" + check + "\""));
        JsonObject usage = usage(server, tenant);
        assertEquals(requests(usageBefore, SMALL) + 1, requests(usage, SMALL), usage::toString);
        assertEquals(requests(usageBefore, LARGE) + 1, requests(usage, LARGE), usage::toString);
        JsonObject saved = savings(usage, router);
        assertEquals(1, saved.getInt("requests"), usage::toString);
        assertEquals(1, saved.getInt("escalations"), usage::toString);
        // The first attempt's baseline is its tokens at the large price; the escalation's cost is all extra.
        assertTrue(saved.getJsonNumber("cost").bigDecimalValue().signum() > 0, usage::toString);
        assertTrue(saved.getJsonNumber("savings").bigDecimalValue().signum() < 0, usage::toString);
        assertTrue(
                saved.getJsonNumber("cost")
                                .bigDecimalValue()
                                .compareTo(saved.getJsonNumber("baselineCost").bigDecimalValue())
                        > 0,
                usage::toString);
    }

    @Test
    void aCascadeEscalatesWhenTheAnswerIsNotTheJsonAsked(AnvilServer server) {
        // No log-probability check: only the JSON one can fail. Decoding is constrained to a JSON object, and a story
        // model writes its story inside the strings, so 8 tokens end mid-string ("length"): not a JSON document.
        String router = cascadeRouter(
                server, Json.createObjectBuilder().add("enabled", true).build());
        String[] key = tenantKey(server, null);
        JsonObject before = usage(server, key[0]);
        String body = "{\"model\":\"" + router + "\",\"temperature\":0,\"max_tokens\":8,"
                + "\"response_format\":{\"type\":\"json_object\"},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Tell a story\"}]}";
        Map<String, String> headers = Map.of("Content-Type", "application/json", "Authorization", "Bearer " + key[1]);
        HttpResult r = server.request("POST", "/v1/chat/completions", body, headers);
        assertEscalated(server, r, router, "json", key[0], before, 0);
        JsonObject choice = r.json().getJsonArray("choices").getJsonObject(0);
        assertEquals("length", choice.getString("finish_reason"), r::toString);
        assertTrue(choice.getJsonObject("message").getString("content").startsWith("{"), r::toString);

        // The same request without response_format asks for no JSON: the check does not apply and the answer stands.
        HttpResult plain = server.request(
                "POST",
                "/v1/chat/completions",
                body.replace(",\"response_format\":{\"type\":\"json_object\"}", ""),
                headers);
        assertRouted(plain, SMALL, "cheapest");
        assertEquals("passed", header(plain, "X-Anvil-Cascade"), plain::toString);
        assertTrue(plain.headers().firstValue("X-Anvil-Cascade-Check").isEmpty(), plain::toString);
    }

    @Test
    void aCascadeEscalatesWhenAGuardrailWithholdsTheAnswer(AnvilServer server) {
        // Tenant 'itblock' has a guardrail policy of its own (AnvilServer): the terms "the, was, and" are blocked in
        // the output. Its keys authenticate as the tenant, so its policy is the one the cascade checks against.
        HttpResult t = server.post("/api/gateway/tenants", "{\"name\":\"itblock\"}");
        assertTrue(t.status() == 201 || t.status() == 409, t::toString);
        HttpResult k = server.post("/api/gateway/tenants/itblock/keys", "{\"name\":\"" + unique("k") + "\"}");
        assertEquals(201, k.status(), k::toString);
        String secret = k.json().getString("key");

        // Precondition, with a tenant without a policy: the greedy story uses one of the blocked terms.
        String[] other = tenantKey(server, null);
        HttpResult story = complete(server, other[1], SMALL, SHORT, 16, Map.of());
        assertEquals(200, story.status(), story::toString);
        String text = story.json().getJsonArray("choices").getJsonObject(0).getString("text");
        assertTrue(
                java.util.regex.Pattern.compile("(?i)\\b(the|was|and)\\b")
                        .matcher(text)
                        .find(),
                "precondition: the story uses a blocked term: " + text);

        String router = cascadeRouter(
                server,
                Json.createObjectBuilder()
                        .add("enabled", true)
                        .add("onJson", false)
                        .build());
        JsonObject before = usage(server, "itblock");
        HttpResult r = complete(server, secret, router, SHORT, 16, Map.of());
        assertEscalated(server, r, router, "guardrail", "itblock", before, 0);
        // The large model tells the same story (the same weights): withheld in its turn, as any answer would be.
        JsonObject choice = r.json().getJsonArray("choices").getJsonObject(0);
        assertEquals("content_filter", choice.getString("finish_reason"), r::toString);
        assertEquals("", choice.getString("text"), r::toString);

        // With the guardrail check off the withheld cheap answer stands (the cascade checks only what it is told).
        String lenient = cascadeRouter(
                server,
                Json.createObjectBuilder()
                        .add("enabled", true)
                        .add("onGuardrail", false)
                        .build());
        HttpResult kept = complete(server, secret, lenient, SHORT, 16, Map.of());
        assertRouted(kept, SMALL, "cheapest");
        assertEquals("passed", header(kept, "X-Anvil-Cascade"), kept::toString);
        assertEquals(
                "content_filter",
                kept.json().getJsonArray("choices").getJsonObject(0).getString("finish_reason"),
                kept::toString);
    }

    @Test
    void aBudgetSpentByTheFirstAttemptRefusesTheEscalationWith429(AnvilServer server) {
        String router = router(
                server,
                Json.createObjectBuilder()
                        .add("enabled", true)
                        .add("minMeanLogprob", -0.0001)
                        .build(),
                null,
                null);
        // 5 tokens a day: the first attempt is admitted (nothing used yet) and its prompt alone uses them.
        String[] key = tenantKey(server, null, 5);
        HttpResult r = complete(server, key[1], router, SHORT, 8, Map.of());
        assertEquals(429, r.status(), r::toString);
        assertEquals("insufficient_quota", r.json().getJsonObject("error").getString("code"), r::toString);
        assertEquals("escalated", header(r, "X-Anvil-Cascade"), r::toString);
        JsonObject usage = usage(server, key[0]);
        assertEquals(1, line(usage, SMALL).getInt("requests"), usage::toString);
        assertTrue(
                usage.getJsonArray("data").stream()
                        .map(JsonValue::asJsonObject)
                        .noneMatch(l -> l.getString("model").equals(LARGE)),
                usage::toString);
        JsonObject saved = savings(usage, router);
        assertEquals(1, saved.getInt("requests"), usage::toString);
        assertEquals(0, saved.getInt("escalations"), usage::toString);
    }

    @Test
    void badDefinitionsAreRefusedWithActionableMessages(AnvilServer server) {
        largeModelServed(server);
        String name = unique("bad");
        assertBadRequest(define(server, name, Json.createObjectBuilder().build()), "candidates");
        assertBadRequest(
                define(server, name, definition(candidate("no-such-model", null, null, null))),
                "not a registered model");
        assertBadRequest(define(server, name, definition(candidate(name, null, null, null))), "itself");
        assertBadRequest(define(server, SMALL, definition(candidate(LARGE, null, null, null))), "registered model");
        String existing = router(server, null, null, null);
        assertBadRequest(
                define(
                        server,
                        name,
                        definition(candidate(SMALL, null, null, null), candidate(existing, null, null, null))),
                "is a router");
        assertBadRequest(
                define(
                        server,
                        name,
                        definition(Json.createObjectBuilder()
                                .add("model", SMALL)
                                .add("maxComplexity", 2)
                                .build())),
                "maxComplexity");
        assertBadRequest(
                define(
                        server,
                        name,
                        Json.createObjectBuilder()
                                .add("candidates", Json.createArrayBuilder().add(candidate(SMALL, null, null, null)))
                                .add("cascade", Json.createObjectBuilder().add("enabled", true))
                                .build()),
                "two candidates");
        assertEquals(404, server.get("/api/routers/" + name).status());

        // The router that exists reads back with the gateway's prices; removing it makes its name unknown.
        HttpResult read = server.get("/api/routers/" + existing);
        assertEquals(200, read.status(), read::toString);
        JsonObject large = read.json().getJsonArray("candidates").getJsonObject(1);
        assertEquals(
                0,
                new BigDecimal("15")
                        .compareTo(large.getJsonNumber("completionPricePer1k").bigDecimalValue()));
        assertEquals(204, server.delete("/api/routers/" + existing).status());
        String[] key = tenantKey(server, null);
        HttpResult gone = Eventually.until(
                () -> complete(server, key[1], existing, SHORT, 4, Map.of()),
                r -> r.status() == 404,
                java.time.Duration.ofSeconds(10));
        assertEquals(404, gone.status(), gone::toString);
    }

    @Test
    void onlyAdminsManageRouters(AnvilServer server) {
        HttpResult anonymous =
                server.request("GET", "/api/routers", null, Map.of("Authorization", AnvilServer.ANONYMOUS));
        assertEquals(401, anonymous.status(), anonymous::toString);
        HttpResult viewer = server.request(
                "PUT",
                "/api/routers/x",
                definition(candidate(SMALL, null, null, null)).toString(),
                Map.of(
                        "Content-Type",
                        "application/json",
                        "Authorization",
                        AnvilServer.basicAuth(AnvilServer.USER_WITHOUT_ROLE)));
        assertEquals(403, viewer.status(), viewer::toString);
        assertEquals(200, server.get("/api/routers").status());
    }

    private static JsonObject definition(JsonObject... candidates) {
        JsonArrayBuilder a = Json.createArrayBuilder();
        for (JsonObject c : candidates) a.add(c);
        return Json.createObjectBuilder().add("candidates", a).build();
    }
}
