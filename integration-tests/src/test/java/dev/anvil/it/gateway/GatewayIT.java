package dev.anvil.it.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerProfile;
import dev.anvil.it.TestModel;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The gateway on a server that requires API keys because it listens beyond loopback (0.0.0.0, with
 * {@code anvil.gateway.require-api-key} left at its default {@code auto}; prices for stories260k of 0.5 / 1.5 per
 * 1000 prompt / completion tokens): the admin API's authentication and role, key
 * creation, scope and revocation, rate limits under concurrency, token budgets, usage rows and report, audit rows.
 * Every test makes its own tenant, so tests do not share limits or budgets.
 */
@ExtendWith(AnvilServerExtension.class)
@ServerProfile(AnvilServer.Profile.API_KEYS_REQUIRED)
class GatewayIT {

    /** Usage and audit rows are written in batches, about every second. */
    private static HttpResult eventually(Supplier<HttpResult> read, Predicate<HttpResult> done) {
        return Eventually.until(read, done, Duration.ofSeconds(30));
    }

    private static final String MODEL = "stories260k";
    private static final String TENANTS = "/api/gateway/tenants";
    private static final Map<String, String> JSON = Map.of("Content-Type", "application/json");

    private static String tenantName() {
        return "t-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static String createTenant(AnvilServer server, JsonObjectBuilder settings) {
        String name = tenantName();
        HttpResult r = server.post(TENANTS, settings.add("name", name).build().toString());
        assertEquals(201, r.status(), r::toString);
        return name;
    }

    /** Creates a key and returns its creation response (with the secret in "key"). */
    private static JsonObject createKey(
            AnvilServer server, String tenant, List<String> models, Integer rpm, Integer tpm) {
        JsonObjectBuilder body = Json.createObjectBuilder()
                .add("name", "k-" + UUID.randomUUID().toString().substring(0, 6));
        if (models != null) {
            JsonArrayBuilder array = Json.createArrayBuilder();
            models.forEach(array::add);
            body.add("allowedModels", array);
        }
        if (rpm != null) body.add("requestsPerMinute", rpm);
        if (tpm != null) body.add("tokensPerMinute", tpm);
        HttpResult r =
                server.post(TENANTS + "/" + tenant + "/keys", body.build().toString());
        assertEquals(201, r.status(), r::toString);
        return r.json();
    }

    private static Map<String, String> bearer(String secret) {
        return Map.of("Content-Type", "application/json", "Authorization", "Bearer " + secret);
    }

    private static HttpResult complete(AnvilServer server, String secret, String model, int maxTokens) {
        return server.request(
                "POST",
                "/v1/completions",
                TestModel.greedyCompletion(model, "Once upon a time", maxTokens),
                bearer(secret));
    }

    private static void assertError(HttpResult r, int status, String type, String code) {
        assertEquals(status, r.status(), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        assertEquals(type, error.getString("type"), r::toString);
        assertEquals(code, error.isNull("code") ? null : error.getString("code"), r::toString);
        assertFalse(error.getString("message").isBlank(), r::toString);
    }

    /** Null fields are left out of the JSON. */
    private static boolean absent(JsonObject object, String field) {
        return !object.containsKey(field) || object.isNull(field);
    }

    private static List<JsonObject> rows(HttpResult r) {
        return r.json().getJsonArray("data").stream()
                .map(JsonValue::asJsonObject)
                .toList();
    }

    // --- admin API security ----------------------------------------------------------------------------------

    @Test
    void adminApiNeedsAnAuthenticatedUserWithTheAdminRole(AnvilServer server) {
        for (String path : List.of(TENANTS, "/api/registry/models", "/api/experiments")) {
            HttpResult anonymous = server.request("GET", path, null, Map.of("Authorization", AnvilServer.ANONYMOUS));
            assertError(anonymous, 401, "invalid_request_error", "admin_authentication_required");
            assertTrue(
                    anonymous
                            .headers()
                            .firstValue("WWW-Authenticate")
                            .orElse("")
                            .startsWith("Basic"),
                    anonymous::toString);

            HttpResult viewer = server.request(
                    "GET", path, null, Map.of("Authorization", AnvilServer.basicAuth(AnvilServer.USER_WITHOUT_ROLE)));
            assertError(viewer, 403, "permission_error", "admin_role_required");

            assertEquals(200, server.get(path).status(), path);
        }
        // Credentials the security domain rejects: the container answers before any resource runs, in the same JSON
        // shape.
        HttpResult wrongPassword = server.request(
                "GET",
                TENANTS,
                null,
                Map.of(
                        "Authorization",
                        "Basic " + java.util.Base64.getEncoder().encodeToString("it-admin:wrong".getBytes())));
        assertError(wrongPassword, 401, "invalid_request_error", "invalid_credentials");
        assertTrue(
                wrongPassword.headers().firstValue("Content-Type").orElse("").startsWith("application/json"),
                wrongPassword::toString);
        assertTrue(
                wrongPassword.json().getJsonObject("error").getString("message").contains("it-admin"),
                wrongPassword::toString);
        assertTrue(
                wrongPassword
                        .headers()
                        .firstValue("WWW-Authenticate")
                        .orElse("")
                        .startsWith("Basic"),
                wrongPassword::toString);
        HttpResult unknownUser = server.request(
                "GET",
                "/v1/models",
                null,
                Map.of(
                        "Authorization",
                        "Basic " + java.util.Base64.getEncoder().encodeToString("nobody:x".getBytes())));
        assertError(unknownUser, 401, "invalid_request_error", "invalid_credentials");
        HttpResult failedLogins = eventually(
                () -> server.get("/api/gateway/audit?actor=it-admin&action=authentication.failed"),
                r -> r.status() == 200 && !rows(r).isEmpty());
        assertTrue(
                rows(failedLogins).stream()
                        .anyMatch(row -> row.getInt("status") == 401
                                && row.getString("target").equals("GET " + TENANTS)),
                failedLogins::toString);
        assertFalse(failedLogins.body().contains("wrong"), "a tried password is never stored: " + failedLogins);

        HttpResult audit = eventually(
                () -> server.get("/api/gateway/audit?actor=" + AnvilServer.USER_WITHOUT_ROLE + "&action=admin.request"),
                r -> r.status() == 200 && rows(r).stream().anyMatch(row -> row.getInt("status") == 403));
        assertTrue(
                rows(audit).stream()
                        .anyMatch(row -> row.getInt("status") == 403
                                && row.getString("target").equals("GET " + TENANTS)),
                audit::toString);
    }

    // --- API keys ----------------------------------------------------------------------------------------------

    @Test
    void v1RequestsNeedAValidKeyScopedToTheModel(AnvilServer server) throws java.io.IOException {
        HttpResult none = server.post("/v1/completions", TestModel.greedyCompletion(MODEL, "Hi", 4));
        assertError(none, 401, "invalid_request_error", "missing_api_key");
        // Nothing set anvil.gateway.require-api-key: listening on 0.0.0.0 (beyond loopback) is what requires the key.
        assertTrue(
                none.json().getJsonObject("error").getString("message").contains("listens on 0.0.0.0"), none::toString);
        assertTrue(
                java.nio.file.Files.readString(server.serverLog())
                        .contains(
                                "API keys are required on /v1: the API listens on 0.0.0.0, beyond loopback (anvil.gateway.require-api-key=auto)"));
        assertTrue(none.headers().firstValue("WWW-Authenticate").isPresent(), none::toString);
        assertError(
                server.request("GET", "/v1/models", null, Map.of()), 401, "invalid_request_error", "missing_api_key");
        assertError(complete(server, "sk-not-an-anvil-key", MODEL, 4), 401, "invalid_request_error", "invalid_api_key");
        assertError(
                complete(server, "anv-" + "x".repeat(43), MODEL, 4), 401, "invalid_request_error", "invalid_api_key");

        String tenant = createTenant(server, Json.createObjectBuilder());
        JsonObject scopedElsewhere = createKey(server, tenant, List.of("some-other-model"), null, null);
        String secret = scopedElsewhere.getString("key");
        assertTrue(secret.startsWith("anv-") && secret.length() > 40, scopedElsewhere::toString);
        assertTrue(secret.startsWith(scopedElsewhere.getString("prefix")), scopedElsewhere::toString);
        HttpResult forbidden = complete(server, secret, MODEL, 4);
        assertError(forbidden, 403, "permission_error", "model_not_allowed");
        assertEquals("model", forbidden.json().getJsonObject("error").getString("param"));
        assertError(complete(server, secret, MODEL + "@1.0.0", 4), 403, "permission_error", "model_not_allowed");

        // A key lists only the models it may use.
        HttpResult listedElsewhere = server.request("GET", "/v1/models", null, bearer(secret));
        assertEquals(200, listedElsewhere.status(), listedElsewhere::toString);
        assertTrue(listedElsewhere.json().getJsonArray("data").isEmpty(), listedElsewhere::toString);

        JsonObject allowed = createKey(server, tenant, List.of(MODEL), null, null);
        HttpResult ok = complete(server, allowed.getString("key"), MODEL, 4);
        assertEquals(200, ok.status(), ok::toString);
        HttpResult models = server.request("GET", "/v1/models", null, bearer(allowed.getString("key")));
        assertEquals(200, models.status(), models::toString);
        assertEquals(
                List.of(MODEL),
                models.json().getJsonArray("data").stream()
                        .map(m -> m.asJsonObject().getString("id"))
                        .toList(),
                models::toString);

        // The secret is shown once: listings carry the prefix only, and the database holds only a hash.
        HttpResult listed = server.get(TENANTS + "/" + tenant + "/keys");
        assertEquals(200, listed.status(), listed::toString);
        assertEquals(2, rows(listed).size(), listed::toString);
        assertFalse(listed.body().contains(secret), listed::toString);
        assertFalse(listed.body().contains(allowed.getString("key")), listed::toString);
        assertTrue(rows(listed).stream().allMatch(k -> absent(k, "key")), listed::toString);

        HttpResult revoked = server.delete("/api/gateway/keys/" + allowed.getInt("id"));
        assertEquals(200, revoked.status(), revoked::toString);
        assertEquals(AnvilServer.ADMIN_USER, revoked.json().getString("revokedBy"));
        assertError(
                complete(server, allowed.getString("key"), MODEL, 4), 401, "invalid_request_error", "invalid_api_key");
        assertError(server.delete("/api/gateway/keys/" + allowed.getInt("id")), 409, "conflict_error", "key_revoked");
        assertError(server.delete("/api/gateway/keys/999999999"), 404, "not_found_error", "key_not_found");
    }

    @Test
    void invalidAdminRequestsAreRefusedWithTheField(AnvilServer server) {
        assertError(server.post(TENANTS, "{\"name\":\"Bad Name\"}"), 400, "invalid_request_error", "invalid_name");
        String tenant = createTenant(server, Json.createObjectBuilder());
        assertError(server.post(TENANTS, "{\"name\":\"" + tenant + "\"}"), 409, "conflict_error", "tenant_exists");
        assertError(
                server.post(TENANTS, "{\"name\":\"" + tenantName() + "\",\"budgetPeriod\":\"WEEK\"}"),
                400,
                "invalid_request_error",
                "invalid_budgetPeriod");
        assertError(
                server.post(TENANTS + "/" + tenant + "/keys", "{\"name\":\"k\",\"requestsPerMinute\":-1}"),
                400,
                "invalid_request_error",
                "invalid_requestsPerMinute");
        assertError(
                server.post(TENANTS + "/" + tenant + "/keys", "{\"name\":\"k\",\"allowedModels\":[\"a@1.0.0\"]}"),
                400,
                "invalid_request_error",
                "invalid_allowedModels");
        assertError(
                server.post(
                        TENANTS + "/nobody-" + UUID.randomUUID().toString().substring(0, 6) + "/keys",
                        "{\"name\":\"k\"}"),
                404,
                "not_found_error",
                "tenant_not_found");
        assertError(server.get("/api/gateway/usage?from=yesterday"), 400, "invalid_request_error", null);
    }

    // --- rate limits -------------------------------------------------------------------------------------------

    @Test
    void requestsPerMinuteHoldUnder32ConcurrentCallers(AnvilServer server) throws Exception {
        int limit = 5;
        String tenant = createTenant(server, Json.createObjectBuilder());
        String secret = createKey(server, tenant, null, limit, null).getString("key");
        RequestBurst burst = RequestBurst.send(32, i -> () -> complete(server, secret, MODEL, 2));
        burst.assertLimitHeld(limit, "");
        List<HttpResult> passed = burst.passed();
        List<HttpResult> refused = burst.refused();
        for (HttpResult r : refused) {
            assertError(r, 429, "rate_limit_error", "rate_limit_exceeded");
            assertEquals(
                    "5", r.headers().firstValue("x-ratelimit-limit-requests").orElse(""), r::toString);
            assertTrue(
                    r.headers()
                            .firstValue("x-ratelimit-reset-requests")
                            .orElse("")
                            .matches("\\d+(ms|s|m\\d+s)"),
                    r::toString);
        }
        for (HttpResult r : passed) {
            assertEquals(
                    "5", r.headers().firstValue("x-ratelimit-limit-requests").orElse(""), r::toString);
            long remaining = Long.parseLong(
                    r.headers().firstValue("x-ratelimit-remaining-requests").orElseThrow());
            assertTrue(remaining >= 0 && remaining < limit, r::toString);
        }
    }

    @Test
    void tokensPerMinuteAreSettledAfterEachGeneration(AnvilServer server) {
        String tenant = createTenant(server, Json.createObjectBuilder());
        String secret = createKey(server, tenant, null, null, 20).getString("key");
        HttpResult first = complete(server, secret, MODEL, 24);
        assertEquals(200, first.status(), first::toString);
        int used = first.json().getJsonObject("usage").getInt("total_tokens");
        assertTrue(used > 20, "the first request overdraws the 20 tokens/minute bucket: " + first);
        assertEquals(
                "20", first.headers().firstValue("x-ratelimit-limit-tokens").orElse(""), first::toString);

        HttpResult second = complete(server, secret, MODEL, 4);
        assertError(second, 429, "rate_limit_error", "rate_limit_exceeded");
        assertTrue(
                second.json().getJsonObject("error").getString("message").contains("tokens per minute"),
                second::toString);
        long retryAfter =
                Long.parseLong(second.headers().firstValue("Retry-After").orElseThrow());
        assertTrue(retryAfter >= 1, second::toString);
        assertEquals(
                "0", second.headers().firstValue("x-ratelimit-remaining-tokens").orElse(""), second::toString);
    }

    // --- budgets, usage, cost, audit ----------------------------------------------------------------------------

    @Test
    void anExhaustedBudgetAnswersInsufficientQuota(AnvilServer server) {
        long budget = 60;
        String tenant = createTenant(
                server, Json.createObjectBuilder().add("tokenBudget", budget).add("budgetPeriod", "MONTH"));
        String secret = createKey(server, tenant, List.of(MODEL), null, null).getString("key");
        long spent = 0;
        HttpResult refusal = null;
        for (int i = 0; i < 10 && refusal == null; i++) {
            HttpResult r = complete(server, secret, MODEL, 16);
            if (r.status() == 429) {
                refusal = r;
            } else {
                assertEquals(200, r.status(), r::toString);
                spent += r.json().getJsonObject("usage").getInt("total_tokens");
            }
        }
        assertNotNull(refusal, "the budget of " + budget + " tokens was never enforced (spent " + spent + ")");
        assertError(refusal, 429, "insufficient_quota", "insufficient_quota");
        assertTrue(spent >= budget, "refused after only " + spent + " of " + budget + " tokens");
        assertTrue(Long.parseLong(refusal.headers().firstValue("Retry-After").orElseThrow()) >= 1, refusal::toString);
        // Still refused, and for every key of the tenant.
        assertError(complete(server, secret, MODEL, 1), 429, "insufficient_quota", "insufficient_quota");
        String other = createKey(server, tenant, null, null, null).getString("key");
        assertError(complete(server, other, MODEL, 1), 429, "insufficient_quota", "insufficient_quota");

        // Raising the budget lets the tenant go on.
        HttpResult raised = server.put(
                TENANTS + "/" + tenant,
                Json.createObjectBuilder()
                        .add("tokenBudget", 1_000_000)
                        .add("budgetPeriod", "MONTH")
                        .build()
                        .toString());
        assertEquals(200, raised.status(), raised::toString);
        assertEquals(200, complete(server, other, MODEL, 1).status());
    }

    @Test
    void usageRowsAndTheReportCarryTokensAndCost(AnvilServer server) {
        String tenant = createTenant(server, Json.createObjectBuilder());
        String secret = createKey(server, tenant, null, null, null).getString("key");
        int prompt = 0;
        int completion = 0;
        for (int i = 0; i < 3; i++) {
            HttpResult r = complete(server, secret, MODEL, 8 + i);
            assertEquals(200, r.status(), r::toString);
            prompt += r.json().getJsonObject("usage").getInt("prompt_tokens");
            completion += r.json().getJsonObject("usage").getInt("completion_tokens");
        }
        // A streamed request is recorded too (its usage arrives in the final chunk).
        HttpResult streamed = server.request(
                "POST",
                "/v1/completions",
                Json.createObjectBuilder()
                        .add("model", MODEL)
                        .add("prompt", "Once upon a time")
                        .add("max_tokens", 6)
                        .add("temperature", 0)
                        .add("stream", true)
                        .add("stream_options", Json.createObjectBuilder().add("include_usage", true))
                        .build()
                        .toString(),
                bearer(secret));
        assertEquals(200, streamed.status(), streamed::toString);
        JsonObject usage = streamed.body()
                .lines()
                .filter(l -> l.startsWith("data: {") && l.contains("\"usage\":{"))
                .map(l -> Json.createReader(new java.io.StringReader(l.substring(6)))
                        .readObject())
                .reduce((a, b) -> b)
                .orElseThrow()
                .getJsonObject("usage");
        prompt += usage.getInt("prompt_tokens");
        completion += usage.getInt("completion_tokens");
        int expectedPrompt = prompt;
        int expectedCompletion = completion;

        HttpResult report = eventually(
                () -> server.get("/api/gateway/usage?tenant=" + tenant),
                r -> r.status() == 200
                        && rows(r).size() == 1
                        && rows(r).getFirst().getInt("requests") == 4);
        assertEquals(200, report.status(), report::toString);
        List<JsonObject> lines = rows(report);
        assertEquals(1, lines.size(), report::toString);
        JsonObject line = lines.getFirst();
        assertEquals(tenant, line.getString("tenant"));
        assertEquals(MODEL, line.getString("model"));
        assertEquals(java.time.LocalDate.now(java.time.ZoneOffset.UTC).toString(), line.getString("day"));
        assertEquals(4, line.getInt("requests"), report::toString);
        assertEquals(expectedPrompt, line.getInt("promptTokens"), report::toString);
        assertEquals(expectedCompletion, line.getInt("completionTokens"), report::toString);
        BigDecimal expectedCost = new BigDecimal("0.5")
                .multiply(BigDecimal.valueOf(expectedPrompt))
                .add(new BigDecimal("1.5").multiply(BigDecimal.valueOf(expectedCompletion)))
                .divide(BigDecimal.valueOf(1000));
        assertEquals(0, expectedCost.compareTo(line.getJsonNumber("cost").bigDecimalValue()), report::toString);

        // Filtering by another model gives nothing; a range in the past gives nothing.
        assertEquals(
                0,
                rows(server.get("/api/gateway/usage?tenant=" + tenant + "&model=other"))
                        .size());
        assertEquals(
                0,
                rows(server.get("/api/gateway/usage?tenant=" + tenant + "&from=2020-01-01&to=2020-01-31"))
                        .size());
    }

    @Test
    void auditRowsRecordAdminActionsAndRequestMetadataButTextOnlyWhenEnabled(AnvilServer server) {
        String quiet = createTenant(server, Json.createObjectBuilder());
        JsonObject quietKey = createKey(server, quiet, null, null, null);
        assertEquals(200, complete(server, quietKey.getString("key"), MODEL, 6).status());

        String verbose = createTenant(server, Json.createObjectBuilder().add("auditText", true));
        JsonObject verboseKey = createKey(server, verbose, null, null, null);
        HttpResult answered = complete(server, verboseKey.getString("key"), MODEL, 6);
        assertEquals(200, answered.status(), answered::toString);
        String generated =
                answered.json().getJsonArray("choices").getJsonObject(0).getString("text");

        HttpResult quietRows = eventually(
                () -> server.get("/api/gateway/audit?tenant=" + quiet + "&action=v1.request"),
                r -> r.status() == 200 && rows(r).size() == 1);
        JsonObject quietRow = rows(quietRows).getFirst();
        assertEquals("key:" + quietKey.getString("prefix"), quietRow.getString("actor"), quietRows::toString);
        assertEquals("POST /v1/completions", quietRow.getString("target"));
        assertTrue(quietRow.getString("detail").contains("model=" + MODEL + "@"), quietRows::toString);
        assertTrue(absent(quietRow, "requestText") && absent(quietRow, "responseText"), quietRows::toString);

        HttpResult verboseRows = eventually(
                () -> server.get("/api/gateway/audit?tenant=" + verbose + "&action=v1.request"),
                r -> r.status() == 200 && rows(r).size() == 1);
        JsonObject verboseRow = rows(verboseRows).getFirst();
        assertTrue(verboseRow.getString("requestText").contains("Once upon a time"), verboseRows::toString);
        assertEquals(generated, verboseRow.getString("responseText"), verboseRows::toString);

        HttpResult created = eventually(
                () -> server.get("/api/gateway/audit?tenant=" + quiet + "&action=key.create"),
                r -> r.status() == 200 && rows(r).size() == 1);
        JsonObject keyCreated = rows(created).getFirst();
        assertEquals(AnvilServer.ADMIN_USER, keyCreated.getString("actor"));
        assertEquals("key/" + quietKey.getInt("id"), keyCreated.getString("target"));
        assertFalse(created.body().contains(quietKey.getString("key")), "the audit never holds a secret: " + created);
        HttpResult tenantCreated = server.get("/api/gateway/audit?tenant=" + quiet + "&action=tenant.create");
        assertEquals(1, rows(tenantCreated).size(), tenantCreated::toString);

        // Refused requests are audited too, with their status.
        assertEquals(
                401,
                server.request(
                                "POST",
                                "/v1/completions",
                                TestModel.greedyCompletion(MODEL, "x", 1),
                                bearer("anv-unknown"))
                        .status());
        HttpResult anonymous = eventually(
                () -> server.get("/api/gateway/audit?actor=anonymous&action=v1.request"),
                r -> r.status() == 200 && rows(r).stream().anyMatch(row -> row.getInt("status") == 401));
        assertTrue(
                rows(anonymous).stream()
                        .anyMatch(row -> row.getInt("status") == 401
                                && row.getString("detail", "").contains("invalid_api_key")),
                anonymous::toString);
    }
}
