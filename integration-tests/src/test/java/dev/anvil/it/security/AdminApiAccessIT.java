package dev.anvil.it.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.security.ApiOperations.Operation;
import dev.anvil.it.security.ApiOperations.Variant;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Authorization of every operation the OpenAPI document lists, decided on what a request invokes: for each admin
 * operation, no credentials are a 401, a user without the role a 403 and an admin gets through, for the path as
 * documented and for every spelling a router might read differently (matrix parameters, escapes, slashes, dot
 * segments, case); other HTTP methods never run anything. The actor of a change is the authenticated user, whatever
 * the request says. Runs on the default server (loopback: the /v1 API is open to anonymous callers, but still
 * passes the gateway whatever the spelling).
 */
@ExtendWith(AnvilServerExtension.class)
class AdminApiAccessIT {

    private static final String MISSING = "acl-missing";
    private static final String ANONYMOUS = AnvilServer.ANONYMOUS;
    private static final String VIEWER = AnvilServer.basicAuth(AnvilServer.USER_WITHOUT_ROLE);
    private static final String ADMIN = AnvilServer.basicAuth(AnvilServer.ADMIN_USER);

    /** Path parameter values that name nothing, so that no admin call changes anything. */
    private static String value(String parameter) {
        return switch (parameter) {
            case "version" -> "9.9.9";
            case "id" -> "999999999";
            default -> MISSING;
        };
    }

    private static HttpResult call(AnvilServer server, String method, String path, String authorization) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Authorization", authorization);
        String body = null;
        if (method.equals("POST") || method.equals("PUT") || method.equals("PATCH")) {
            headers.put("Content-Type", "application/json");
            body = "{}";
        }
        return server.requestRaw(method, path, body, headers);
    }

    private static void assertRefused(HttpResult r, int status, String code, String why) {
        ApiOperations.assertRefused(r, status, code, "Basic", why);
    }

    private static void assertAdmitted(HttpResult r, String why) {
        assertTrue(r.status() != 401 && r.status() != 403 && r.status() < 500, () -> why + ": " + r);
    }

    @Test
    void everyOperationOfTheDocumentDeclaresWhoMayCallIt(AnvilServer server) {
        List<Operation> operations = ApiOperations.of(server);
        assertTrue(operations.size() >= 40, operations::toString);
        for (Operation op : operations) {
            if (op.template().startsWith("/api/")) {
                assertEquals(Set.of("admin"), op.security(), op::toString);
            } else if (op.template().startsWith("/v1/")) {
                assertEquals(Set.of("apiKey"), op.security(), op::toString);
            } else {
                assertTrue(op.security().isEmpty(), op::toString);
                assertTrue(op.template().startsWith("/health") || op.template().equals("/metrics"), "public: " + op);
            }
        }
    }

    @Test
    void everyAdminOperationRefusesAnonymousCallersAndUsersWithoutTheRoleAndAdmitsAdmins(AnvilServer server) {
        List<Operation> admin =
                ApiOperations.of(server).stream().filter(Operation::admin).toList();
        assertTrue(admin.size() >= 30, admin::toString);
        for (Operation op : admin) {
            String path = op.path(AdminApiAccessIT::value);
            assertRefused(
                    call(server, op.method(), path, ANONYMOUS),
                    401,
                    "admin_authentication_required",
                    op + " anonymous");
            assertRefused(
                    call(server, op.method(), path, VIEWER), 403, "admin_role_required", op + " without the role");
            assertAdmitted(call(server, op.method(), path, ADMIN), op + " as admin");
        }
    }

    @Test
    void noSpellingOfAnAdminPathReachesItsOperationWithoutTheRole(AnvilServer server) {
        int routed = 0;
        int unrouted = 0;
        for (Operation op :
                ApiOperations.of(server).stream().filter(Operation::admin).toList()) {
            for (Variant variant : ApiOperations.variants(op.path(AdminApiAccessIT::value))) {
                String why = op + " spelled " + variant.path() + " (" + variant.how() + ")";
                HttpResult asAdmin = call(server, op.method(), variant.path(), ADMIN);
                HttpResult anonymous = call(server, op.method(), variant.path(), ANONYMOUS);
                HttpResult viewer = call(server, op.method(), variant.path(), VIEWER);
                assertTrue(asAdmin.status() < 500, why + ": " + asAdmin);
                if (ApiOperations.unrouted(asAdmin) || asAdmin.status() == 405) {
                    // No operation runs for this spelling, for anybody.
                    unrouted++;
                    assertEquals(asAdmin.status(), anonymous.status(), why + ": " + anonymous);
                    assertEquals(asAdmin.status(), viewer.status(), why + ": " + viewer);
                } else {
                    // It reaches an operation: that operation's check ran.
                    routed++;
                    assertAdmitted(asAdmin, why);
                    assertRefused(anonymous, 401, "admin_authentication_required", why);
                    assertRefused(viewer, 403, "admin_role_required", why);
                }
            }
        }
        assertTrue(
                routed > 100 && unrouted > 100,
                "both kinds of spelling were tried: routed " + routed + ", unrouted " + unrouted);
    }

    @Test
    void otherHttpMethodsOnAdminPathsRunNothingWithoutTheRole(AnvilServer server) {
        Map<String, Set<String>> declared = new LinkedHashMap<>();
        for (Operation op :
                ApiOperations.of(server).stream().filter(Operation::admin).toList()) {
            declared.computeIfAbsent(op.path(AdminApiAccessIT::value), p -> new LinkedHashSet<>())
                    .add(op.method());
        }
        for (Map.Entry<String, Set<String>> path : declared.entrySet()) {
            for (String method : ApiOperations.METHODS) {
                if (path.getValue().contains(method)) continue;
                String why = method + " " + path.getKey() + " (declared: " + path.getValue() + ")";
                HttpResult anonymous = call(server, method, path.getKey(), ANONYMOUS);
                assertEquals(405, anonymous.status(), why + ": " + anonymous);
                assertEquals(405, call(server, method, path.getKey(), ADMIN).status(), why);
            }
            // A method override header is not honoured: a POST stays a POST.
            HttpResult overridden = server.requestRaw(
                    "POST",
                    path.getKey(),
                    "{}",
                    Map.of(
                            "Content-Type",
                            "application/json",
                            "X-HTTP-Method-Override",
                            "GET",
                            "Authorization",
                            ANONYMOUS));
            assertTrue(overridden.status() == 405 || overridden.status() == 401, path.getKey() + ": " + overridden);
            if (path.getValue().contains("GET")) {
                // HEAD runs the GET operation, with its check.
                assertEquals(401, call(server, "HEAD", path.getKey(), ANONYMOUS).status(), "HEAD " + path.getKey());
                assertEquals(403, call(server, "HEAD", path.getKey(), VIEWER).status(), "HEAD " + path.getKey());
            }
            // OPTIONS (a CORS preflight is anonymous by definition) only lists the methods: no data, nothing runs.
            HttpResult options = call(server, "OPTIONS", path.getKey(), ANONYMOUS);
            assertTrue(options.status() == 200 || options.status() == 204, "OPTIONS " + path.getKey() + ": " + options);
            String allow = options.headers().firstValue("Allow").orElse("");
            for (String method : path.getValue())
                assertTrue(allow.contains(method), "OPTIONS " + path.getKey() + ": " + options);
            assertTrue(
                    options.body().isEmpty() || options.body().strip().equals(allow.strip()),
                    "OPTIONS " + path.getKey() + ": " + options);
        }
    }

    @Test
    void theAttacksOfTheSecurityReviewAreRefusedAndChangeNothing(AnvilServer server) {
        String production = production(server);
        HttpResult stage = server.requestRaw(
                "POST",
                "/api;x/registry/models/stories260k/versions/" + production + "/stage",
                "{\"stage\":\"STAGING\"}",
                Map.of("Content-Type", "application/json", "X-Anvil-Actor", "mallory"));
        assertRefused(
                stage, 401, "admin_authentication_required", "stage change with a matrix parameter and no credentials");
        assertEquals(production, production(server), "production is untouched");
        assertRefused(
                server.requestRaw("GET", "/api;x/gateway/audit", null, Map.of()),
                401,
                "admin_authentication_required",
                "audit log with a matrix parameter");
        assertRefused(
                server.requestRaw("GET", "/api/gateway;x=1/audit", null, Map.of()),
                401,
                "admin_authentication_required",
                "audit log with a matrix parameter on the second segment");
    }

    private static String production(AnvilServer server) {
        HttpResult model = server.get("/api/registry/models/stories260k");
        assertEquals(200, model.status(), model::toString);
        return model.json().getString("productionVersion");
    }

    @Test
    void theActorOfAChangeIsTheAuthenticatedUserWhateverTheRequestSays(AnvilServer server) {
        String name = "acl-actor-" + UUID.randomUUID().toString().substring(0, 8);
        HttpResult anonymous = server.requestRaw(
                "POST",
                "/api/registry/models",
                "{\"name\":\"" + name + "\"}",
                Map.of("Content-Type", "application/json", "X-Anvil-Actor", "mallory"));
        assertRefused(anonymous, 401, "admin_authentication_required", "an actor header is not a credential");
        HttpResult created = server.requestRaw(
                "POST",
                "/api/registry/models",
                "{\"name\":\"" + name + "\"}",
                Map.of(
                        "Content-Type",
                        "application/json",
                        "X-Anvil-Actor",
                        "mallory",
                        "Authorization",
                        AnvilServer.basicAuth("alice")));
        assertEquals(201, created.status(), created::toString);
        assertEquals("alice", created.json().getString("createdBy"), created::toString);
        assertEquals("alice", created.json().getString("owner"), created::toString);
        String tenant = "acl-" + UUID.randomUUID().toString().substring(0, 8);
        HttpResult tenantCreated = server.requestRaw(
                "POST",
                "/api/gateway/tenants",
                "{\"name\":\"" + tenant + "\"}",
                Map.of(
                        "Content-Type",
                        "application/json",
                        "X-Anvil-Actor",
                        "mallory",
                        "Authorization",
                        AnvilServer.basicAuth("bob")));
        assertEquals(201, tenantCreated.status(), tenantCreated::toString);
        HttpResult audit = eventually(server, "/api/gateway/audit?tenant=" + tenant + "&action=tenant.create");
        assertEquals("bob", rows(audit).getFirst().getString("actor"), audit::toString);
        assertFalse(audit.body().contains("mallory"), audit::toString);
    }

    @Test
    void theGatewayRunsForEverySpellingOfAV1Path(AnvilServer server) {
        // Anonymous callers are served here (loopback), but through the gateway: the audit row names the endpoint.
        HttpResult answer = server.requestRaw(
                "POST",
                "/v1;x/chat/completions",
                "{\"model\":\"stories260k\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2}",
                Map.of("Content-Type", "application/json"));
        assertEquals(200, answer.status(), answer::toString);
        String id = answer.json().getString("id");
        HttpResult audit = eventually(
                server,
                "/api/gateway/audit?actor=anonymous&action=v1.request&limit=500",
                r -> rows(r).stream()
                        .anyMatch(row -> row.containsKey("detail")
                                && !row.isNull("detail")
                                && row.getString("detail").contains("request=" + id)));
        JsonObject row = rows(audit).stream()
                .filter(r -> !r.isNull("detail") && r.getString("detail").contains("request=" + id))
                .findFirst()
                .orElseThrow();
        assertEquals("POST /v1/chat/completions", row.getString("target"), row::toString);
    }

    private static List<JsonObject> rows(HttpResult r) {
        return r.json().getJsonArray("data").stream()
                .map(JsonValue::asJsonObject)
                .toList();
    }

    private static HttpResult eventually(AnvilServer server, String path) {
        return eventually(server, path, r -> !rows(r).isEmpty());
    }

    /** Audit rows are written in batches about every second: re-reads until {@code done}, for at most 30 s. */
    private static HttpResult eventually(
            AnvilServer server, String path, java.util.function.Predicate<HttpResult> done) {
        HttpResult last = Eventually.until(
                () -> server.get(path), r -> r.status() == 200 && done.test(r), Duration.ofSeconds(30));
        assertEquals(200, last.status(), last::toString);
        assertTrue(done.test(last), last::toString);
        return last;
    }
}
