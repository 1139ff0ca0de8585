package dev.anvil.tools.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.tools.AnvilCli;
import dev.anvil.tools.JsonText;
import dev.anvil.tools.server.StandInServer.Answer;
import jakarta.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The gateway benchmark against a stand-in server whose overhead timer is known. */
class GatewayBenchCommandTest {

    private static final String KEY = "anv-0123456789abcdef";
    private static final String ADMIN =
            "Basic " + Base64.getEncoder().encodeToString("ops:secret".getBytes(StandardCharsets.UTF_8));

    record Run(int status, String out, String err) {}

    static Run run(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        String[] command = new String[args.length + 1];
        command[0] = "gateway-bench";
        System.arraycopy(args, 0, command, 1, args.length);
        int status = AnvilCli.run(
                command,
                env,
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** A server whose timer has counted 10 requests before the run and every /v1 request with the key since. */
    private static StandInServer server(AtomicInteger served) {
        StandInServer server = new StandInServer();
        // The tenant's name is known once it is created: that request adds the route of its keys.
        server.route("POST /api/gateway/tenants", r -> {
            if (!ADMIN.equals(r.header("Authorization"))) return Answer.json(401, "{}");
            String tenant = JsonText.object(r.body()).getString("name");
            server.route(
                    "POST /api/gateway/tenants/" + tenant + "/keys",
                    k -> ADMIN.equals(k.header("Authorization"))
                            ? Answer.json(201, "{\"name\":\"bench\",\"key\":\"" + KEY + "\"}")
                            : Answer.json(401, "{}"));
            return Answer.json(201, r.body());
        });
        server.route("GET /metrics", r -> new Answer(200, "text/plain", """
                # TYPE anvil_gateway_overhead_seconds summary
                anvil_gateway_overhead_seconds{mp_scope="application",quantile="0.5",} 1.2E-5
                anvil_gateway_overhead_seconds{mp_scope="application",quantile="0.9",} 2.05E-5
                anvil_gateway_overhead_seconds{mp_scope="application",quantile="0.99",} 4.5E-5
                anvil_gateway_overhead_seconds_count{mp_scope="application",} %d.0
                anvil_gateway_overhead_seconds_sum{mp_scope="application",} 0.001
                anvil_gateway_overhead_seconds_max{mp_scope="application",} 1.5E-4
                """.formatted(10 + served.get())));
        server.route("GET /v1/models", r -> {
            if (("Bearer " + KEY).equals(r.header("Authorization"))) served.incrementAndGet();
            return Answer.json(200, "{\"object\":\"list\",\"data\":[]}");
        });
        server.route("POST /v1/completions", r -> {
            if (("Bearer " + KEY).equals(r.header("Authorization"))) served.incrementAndGet();
            return Answer.json(200, "{\"choices\":[{\"text\":\" upon\"}]}");
        });
        return server;
    }

    @Test
    void createsATenantAndKeyThenReportsTheServersTimer() {
        AtomicInteger served = new AtomicInteger();
        try (StandInServer server = server(served)) {
            Run r = run(
                    Map.of("ANVIL_URL", server.url(), "ANVIL_ADMIN_USER", "ops", "ANVIL_ADMIN_PASSWORD", "secret"),
                    "7",
                    "3");
            assertEquals(0, r.status(), r.err());

            JsonObject tenant = JsonText.object(
                    server.requests("POST /api/gateway/tenants").getFirst().body());
            assertTrue(tenant.getString("name").startsWith("bench-"), tenant.toString());
            assertEquals(1_000_000_000_000L, tenant.getJsonNumber("tokenBudget").longValue());
            assertEquals(100_000_000, tenant.getInt("requestsPerMinute"));
            assertEquals(100_000_000, tenant.getInt("tokensPerMinute"));
            assertEquals(3, server.requests("GET /v1/models").size(), "even requests list the models");
            List<StandInServer.Request> completions = server.requests("POST /v1/completions");
            assertEquals(4, completions.size(), "odd requests complete one token");
            JsonObject completion = JsonText.object(completions.getFirst().body());
            assertEquals("stories260k", completion.getString("model"));
            assertEquals(1, completion.getInt("max_tokens"));
            assertEquals(0, completion.getInt("temperature"));

            List<String> lines = r.out().lines().toList();
            assertEquals(4, lines.size(), r.out());
            assertEquals(
                    "gateway-bench: 7 requests, 3 at a time, tenant " + tenant.getString("name")
                            + ", key anv-01234567...",
                    lines.get(0));
            assertEquals("gateway-bench: HTTP 200 x 7", lines.get(1));
            assertTrue(
                    lines.get(2)
                            .matches("gateway-bench: 7 requests measured in [0-9]+\\.[0-9] s \\(client wall time\\)"),
                    lines.get(2));
            assertEquals(
                    "gateway-bench: overhead per request  p50 12.0 us   p90 20.5 us   p99 45.0 us   max 150.0 us",
                    lines.get(3));
        }
    }

    @Test
    void countsEachHttpStatus() {
        AtomicInteger served = new AtomicInteger();
        try (StandInServer server = server(served)) {
            server.route("POST /v1/completions", req -> Answer.json(429, "{\"error\":{\"message\":\"slow down\"}}"));
            Run r = run(
                    Map.of("ANVIL_URL", server.url(), "ANVIL_ADMIN_USER", "ops", "ANVIL_ADMIN_PASSWORD", "secret"),
                    "4");
            assertEquals(0, r.status(), r.err());
            assertTrue(r.out().contains("gateway-bench: HTTP 200 x 2\ngateway-bench: HTTP 429 x 2\n"), r.out());
            assertTrue(r.out().contains("gateway-bench: 4 requests, 4 at a time"), r.out());
        }
    }

    @Test
    void refusesWithoutAdminPasswordOrWhenTheAdminApiRefuses() {
        AtomicInteger served = new AtomicInteger();
        try (StandInServer server = server(served)) {
            Run missing = run(Map.of("ANVIL_URL", server.url()));
            assertEquals(1, missing.status());
            assertTrue(missing.err().contains("set ANVIL_ADMIN_PASSWORD"), missing.err());
            assertEquals(0, server.requests.size(), "nothing is sent without credentials");

            Run refused =
                    run(Map.of("ANVIL_URL", server.url(), "ANVIL_ADMIN_USER", "ops", "ANVIL_ADMIN_PASSWORD", "wrong"));
            assertEquals(1, refused.status());
            assertTrue(refused.err().contains("POST /api/gateway/tenants answered 401"), refused.err());

            Run usage = run(Map.of("ANVIL_URL", server.url(), "ANVIL_ADMIN_PASSWORD", "secret"), "many");
            assertEquals(2, usage.status());
            assertTrue(usage.err().contains("REQUESTS must be a positive integer"), usage.err());
        }
    }
}
