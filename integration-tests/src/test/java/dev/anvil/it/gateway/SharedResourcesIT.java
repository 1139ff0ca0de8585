package dev.anvil.it.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerMetrics;
import dev.anvil.it.ServerProfile;
import dev.anvil.it.StuckStreamClient;
import dev.anvil.it.TestModel;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Abuse of shared resources on a server that requires API keys: ratings only from the tenant that received the
 * response, once per response, within its key's rate limits; response cache entries scoped by tenant; budgets and
 * tokens/minute reserved at admission so concurrent long generations cannot overspend them; a key's limit of
 * concurrent requests; pinning versions a name does not serve only for keys that may. Every test makes its own
 * tenants, so tests share no limits, budgets or cache entries.
 */
@ExtendWith(AnvilServerExtension.class)
@ServerProfile(AnvilServer.Profile.API_KEYS_REQUIRED)
class SharedResourcesIT {

    private static final String MODEL = "stories260k";
    private static final String TENANTS = "/api/gateway/tenants";

    private static String createTenant(AnvilServer server, JsonObjectBuilder settings) {
        String name = "t-" + UUID.randomUUID().toString().substring(0, 8);
        HttpResult r = server.post(TENANTS, settings.add("name", name).build().toString());
        assertEquals(201, r.status(), r::toString);
        return name;
    }

    private static JsonObject createKey(AnvilServer server, String tenant, JsonObjectBuilder settings) {
        HttpResult r = server.post(
                TENANTS + "/" + tenant + "/keys",
                settings.add("name", "k-" + UUID.randomUUID().toString().substring(0, 6))
                        .build()
                        .toString());
        assertEquals(201, r.status(), r::toString);
        return r.json();
    }

    private static String key(AnvilServer server, String tenant) {
        return createKey(server, tenant, Json.createObjectBuilder()).getString("key");
    }

    private static Map<String, String> bearer(String secret) {
        return Map.of("Content-Type", "application/json", "Authorization", "Bearer " + secret);
    }

    private static HttpResult complete(
            AnvilServer server, String secret, String model, String prompt, int maxTokens, String extra) {
        return server.request(
                "POST",
                "/v1/completions",
                "{\"model\":" + Json.createValue(model) + ",\"prompt\":" + Json.createValue(prompt) + ",\"max_tokens\":"
                        + maxTokens + (extra.isEmpty() ? "" : "," + extra) + "}",
                bearer(secret));
    }

    private static HttpResult rate(AnvilServer server, String secret, String responseId, int rating) {
        return server.request(
                "POST",
                "/v1/feedback",
                "{\"response_id\":" + Json.createValue(responseId) + ",\"rating\":" + rating + "}",
                bearer(secret));
    }

    private static void assertError(HttpResult r, int status, String type, String code) {
        assertEquals(status, r.status(), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        assertEquals(type, error.getString("type"), r::toString);
        assertEquals(code, error.isNull("code") ? null : error.getString("code"), r::toString);
        assertTrue(error.getString("message").length() > 20, r::toString);
    }

    // --- feedback ------------------------------------------------------------------------------------------------

    @Test
    void onlyTheTenantThatReceivedAResponseMayRateItOnceAndWithinItsRateLimits(AnvilServer server) {
        String acme = createTenant(server, Json.createObjectBuilder());
        String served = key(server, acme);
        String colleague = key(server, acme);
        String other = key(server, createTenant(server, Json.createObjectBuilder()));
        HttpResult answer = complete(server, served, MODEL, "Once upon a time", 4, "");
        assertEquals(200, answer.status(), answer::toString);
        String id = answer.json().getString("id");

        assertError(rate(server, other, id, -1), 403, "permission_error", "response_not_yours");
        assertError(
                rate(server, served, "cmpl-" + UUID.randomUUID().toString().replace("-", ""), -1),
                404,
                "not_found_error",
                "response_not_found");

        HttpResult first = rate(server, served, id, -1);
        assertEquals(201, first.status(), first::toString);
        HttpResult again = rate(server, colleague, id, 1); // another key of the same tenant
        assertEquals(201, again.status(), again::toString);
        assertEquals(
                first.json().getJsonNumber("id").longValue(),
                again.json().getJsonNumber("id").longValue(),
                "a later rating replaces the earlier one instead of adding a second");
        assertEquals(1, again.json().getInt("rating"));
        assertFalse(again.json().getBoolean("negative"));

        // Ratings count against the key's requests per minute like any /v1 request.
        String limited = createKey(server, acme, Json.createObjectBuilder().add("requestsPerMinute", 2))
                .getString("key");
        assertEquals(201, rate(server, limited, id, 0).status());
        assertEquals(201, rate(server, limited, id, 0).status());
        HttpResult refused = rate(server, limited, id, 0);
        assertError(refused, 429, "rate_limit_error", "rate_limit_exceeded");
        assertTrue(refused.headers().firstValue("Retry-After").isPresent(), refused::toString);
    }

    // --- response cache ------------------------------------------------------------------------------------------

    @Test
    void aCachedAnswerIsAHitForItsOwnTenantOnly(AnvilServer server) {
        String acme = key(server, createTenant(server, Json.createObjectBuilder()));
        String globex = key(server, createTenant(server, Json.createObjectBuilder()));
        String prompt = "Once upon a time there was a secret " + UUID.randomUUID();
        HttpResult miss = complete(server, acme, MODEL, prompt, 6, "\"temperature\":0");
        assertEquals(200, miss.status(), miss::toString);
        assertEquals("miss", miss.headers().firstValue("X-Anvil-Cache").orElse(""), miss::toString);
        HttpResult hit = Eventually.until(
                () -> complete(server, acme, MODEL, prompt, 6, "\"temperature\":0"),
                r -> r.headers().firstValue("X-Anvil-Cache").orElse("").equals("hit"),
                Duration.ofSeconds(20));
        assertEquals("hit", hit.headers().firstValue("X-Anvil-Cache").orElse(""), "the tenant's own entry: " + hit);

        HttpResult otherTenant = complete(server, globex, MODEL, prompt, 6, "\"temperature\":0");
        assertEquals(200, otherTenant.status(), otherTenant::toString);
        assertEquals(
                "miss",
                otherTenant.headers().firstValue("X-Anvil-Cache").orElse(""),
                "another tenant's request must not learn that the same prompt was asked: " + otherTenant);
        assertEquals(
                hit.json().getJsonArray("choices").getJsonObject(0).getString("text"),
                otherTenant.json().getJsonArray("choices").getJsonObject(0).getString("text"),
                "generated afresh, the same text");
    }

    // --- budgets and concurrency ---------------------------------------------------------------------------------

    @Test
    void concurrentLongGenerationsCannotSpendMoreThanTheBudgetAndOneReservation(AnvilServer server) throws Exception {
        long budget = 200;
        int maxTokens = 100;
        String tenant = createTenant(
                server, Json.createObjectBuilder().add("tokenBudget", budget).add("budgetPeriod", "MONTH"));
        String secret = key(server, tenant);
        int callers = 16;
        CountDownLatch start = new CountDownLatch(1);
        List<HttpResult> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(callers)) {
            List<Future<HttpResult>> futures = new ArrayList<>();
            for (int i = 0; i < callers; i++) {
                futures.add(pool.submit(() -> {
                    start.await();
                    return complete(server, secret, MODEL, "Once upon a time", maxTokens, "\"temperature\":1");
                }));
            }
            start.countDown();
            for (Future<HttpResult> f : futures) results.add(f.get());
        }
        long spent = 0;
        int largestRequest = 0;
        int refused = 0;
        for (HttpResult r : results) {
            if (r.status() == 429) {
                assertError(r, 429, "insufficient_quota", "insufficient_quota");
                refused++;
            } else {
                assertEquals(200, r.status(), r::toString);
                int total = r.json().getJsonObject("usage").getInt("total_tokens");
                spent += total;
                largestRequest =
                        Math.max(largestRequest, r.json().getJsonObject("usage").getInt("prompt_tokens") + maxTokens);
            }
        }
        assertTrue(refused > 0, "the budget was never enforced: " + results);
        // Admission reserves prompt + max_tokens while the count is below the budget: what runs can cross the budget
        // by at most one request's reservation, however many start at once.
        assertTrue(
                spent <= budget + largestRequest,
                "spent " + spent + " tokens of a budget of " + budget + " with " + (callers - refused) + " of "
                        + callers + " concurrent requests admitted");
    }

    @Test
    void requestsThatFailAfterAdmissionGiveTheirReservationBack(AnvilServer server) {
        String tenant = createTenant(
                server,
                Json.createObjectBuilder()
                        .add("tokenBudget", 600)
                        .add("budgetPeriod", "MONTH")
                        .add("tokensPerMinute", 600));
        String secret = key(server, tenant);
        // Each reserves the whole context (stories260k: 1024 tokens, more than the budget and the bucket) and then
        // fails: the prompt and max_tokens exceed the context.
        for (int i = 0; i < 4; i++) {
            HttpResult tooLong = complete(server, secret, MODEL, "Once upon a time", 5000, "");
            assertEquals(400, tooLong.status(), tooLong::toString);
        }
        HttpResult ok = complete(server, secret, MODEL, "Once upon a time", 8, "");
        assertEquals(200, ok.status(), "failed requests keep nothing of the budget or the bucket: " + ok);
    }

    /** A stream far larger than the socket buffers of a client that reads nothing (see StuckStreamIT). */
    private static final String LARGE_STREAM =
            "{\"model\":\"" + MODEL + "\",\"prompt\":[\"Once upon a time\",\"The dog\",\"A girl\","
                    + "\"In the park\"],\"n\":8,\"max_tokens\":480,\"logprobs\":5,\"temperature\":1,\"stream\":true}";

    @Test
    void aKeyHasAtMostItsLimitOfRequestsInProgressAndGetsThemBackWhenTheyEnd(AnvilServer server) {
        String tenant = createTenant(server, Json.createObjectBuilder().add("maxConcurrentRequests", 2));
        JsonObject created = createKey(server, tenant, Json.createObjectBuilder());
        String secret = created.getString("key");
        HttpResult listed = server.get(TENANTS + "/" + tenant);
        assertEquals(2, listed.json().getInt("maxConcurrentRequests"), listed::toString);

        Map<String, String> auth = Map.of("Authorization", "Bearer " + secret);
        try (StuckStreamClient one = StuckStreamClient.send(server, "/v1/completions", LARGE_STREAM, auth);
                StuckStreamClient two = StuckStreamClient.send(server, "/v1/completions", LARGE_STREAM, auth)) {
            assertTrue(one.ok(Duration.ofSeconds(30)), one::toString);
            assertTrue(two.ok(Duration.ofSeconds(30)), two::toString);
            // Both streams are in progress (their clients read nothing more): a third request of the key is refused.
            HttpResult third = complete(server, secret, MODEL, "Once upon a time", 2, "");
            assertError(third, 429, "rate_limit_error", "concurrent_requests_exceeded");
            assertEquals("1", third.headers().firstValue("Retry-After").orElse(""), third::toString);
            assertEquals(
                    "2",
                    third.headers()
                            .firstValue("x-ratelimit-limit-concurrent-requests")
                            .orElse(""),
                    third::toString);
            assertEquals(
                    "0",
                    third.headers()
                            .firstValue("x-ratelimit-remaining-concurrent-requests")
                            .orElse(""),
                    third::toString);
            // Another key of another tenant is not affected.
            assertEquals(
                    200,
                    complete(server, key(server, createTenant(server, Json.createObjectBuilder())), MODEL, "Hi", 2, "")
                            .status());
        }
        // The clients went away (or were cut): their slots come back.
        HttpResult after = Eventually.until(
                () -> complete(server, secret, MODEL, "Once upon a time", 2, ""),
                r -> r.status() == 200,
                Duration.ofSeconds(60));
        assertEquals(200, after.status(), after::toString);
    }

    // --- version pinning -----------------------------------------------------------------------------------------

    @Test
    void pinningAVersionItsNameDoesNotServeNeedsAKeyThatMayPin(AnvilServer server) {
        String model = "pin-" + UUID.randomUUID().toString().substring(0, 8);
        TestModel.register(server, model, "1.0.0", "2.0.0");
        HttpResult promoted =
                server.post("/api/registry/models/" + model + "/versions/1.0.0/stage", "{\"stage\":\"PRODUCTION\"}");
        assertEquals(200, promoted.status(), promoted::toString);
        try {
            String plain = key(server, createTenant(server, Json.createObjectBuilder()));
            HttpResult served = Eventually.until(
                    () -> complete(server, plain, model, "Once upon a time", 2, ""),
                    r -> r.status() == 200,
                    Duration.ofSeconds(60));
            assertEquals(model + "@1.0.0", served.json().getString("model"), served::toString);
            assertEquals(
                    200,
                    complete(server, plain, model + "@1.0.0", "Once upon a time", 2, "")
                            .status(),
                    "the version the name serves may be pinned by anyone");

            HttpResult refused = complete(server, plain, model + "@2.0.0", "Once upon a time", 2, "");
            assertError(refused, 403, "permission_error", "version_pin_not_allowed");
            assertEquals("model", refused.json().getJsonObject("error").getString("param"));
            assertFalse(loaded(server, model, "2.0.0"), "a refused pin loads nothing");

            String pinningTenant =
                    createTenant(server, Json.createObjectBuilder().add("allowVersionPinning", true));
            HttpResult byTenant =
                    complete(server, key(server, pinningTenant), model + "@2.0.0", "Once upon a time", 2, "");
            assertEquals(200, byTenant.status(), "a key of a tenant that may pin: " + byTenant);
            assertEquals(model + "@2.0.0", byTenant.json().getString("model"));
            String pinningKey = createKey(
                            server,
                            createTenant(server, Json.createObjectBuilder()),
                            Json.createObjectBuilder().add("allowVersionPinning", true))
                    .getString("key");
            assertEquals(
                    200,
                    complete(server, pinningKey, model + "@2.0.0", "Once upon a time", 2, "")
                            .status(),
                    "a key that may pin");
            String deniedKey = createKey(
                            server, pinningTenant, Json.createObjectBuilder().add("allowVersionPinning", false))
                    .getString("key");
            assertError(
                    complete(server, deniedKey, model + "@2.0.0", "Once upon a time", 2, ""),
                    403,
                    "permission_error",
                    "version_pin_not_allowed");
        } finally {
            for (String v :
                    List.of("2.0.0", "1.0.0")) { // every loaded version holds a KV cache: unload what this loaded
                server.post("/api/registry/models/" + model + "/versions/" + v + "/stage", "{\"stage\":\"ARCHIVED\"}");
            }
        }
    }

    /** Whether {@code model@version} has a runtime (its KV gauge is in /metrics). */
    private static boolean loaded(AnvilServer server, String model, String version) {
        return ServerMetrics.application(server)
                .contains("anvil_inference_kv_blocks_used", "model=\"" + model + "\"", "version=\"" + version + "\"");
    }

    @Test
    void theNewTenantAndKeyFieldsAreInTheAdminApiAndItsOpenApiDocument(AnvilServer server) {
        String tenant = createTenant(
                server,
                Json.createObjectBuilder().add("maxConcurrentRequests", 3).add("allowVersionPinning", true));
        JsonObject t = server.get(TENANTS + "/" + tenant).json();
        assertEquals(3, t.getInt("maxConcurrentRequests"));
        assertTrue(t.getBoolean("allowVersionPinning"));
        JsonObject k = createKey(
                server,
                tenant,
                Json.createObjectBuilder().add("maxConcurrentRequests", 1).add("allowVersionPinning", false));
        assertEquals(1, k.getInt("maxConcurrentRequests"));
        assertFalse(k.getBoolean("allowVersionPinning"));
        assertError(
                server.post(TENANTS + "/" + tenant + "/keys", "{\"name\":\"neg\",\"maxConcurrentRequests\":-1}"),
                400,
                "invalid_request_error",
                "invalid_maxConcurrentRequests");
        HttpResult updated = server.put(TENANTS + "/" + tenant, "{\"maxConcurrentRequests\":5}");
        assertEquals(5, updated.json().getInt("maxConcurrentRequests"), updated::toString);
        assertFalse(updated.json().getBoolean("allowVersionPinning"), "PUT replaces the settings");

        JsonObject schemas = server.get("/openapi?format=JSON")
                .json()
                .getJsonObject("components")
                .getJsonObject("schemas");
        for (String schema : List.of("TenantRequest", "Tenant", "KeyRequest", "ApiKey")) {
            JsonObject properties = schemas.getJsonObject(schema).getJsonObject("properties");
            assertTrue(
                    properties.containsKey("maxConcurrentRequests") && properties.containsKey("allowVersionPinning"),
                    schema + ": " + properties);
            assertNotEquals(
                    "", properties.getJsonObject("maxConcurrentRequests").getString("description", ""), schema);
        }
    }
}
