package dev.anvil.tools.server;

import dev.anvil.tools.CliArgs;
import dev.anvil.tools.CommandFailedException;
import jakarta.json.Json;
import jakarta.json.JsonString;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code anvil gateway-bench}: the gateway's overhead per /v1 request (API key authentication, rate limits, budget
 * check, audit hand-off), as measured inside the server by the timer {@code anvil.gateway.overhead}, at p50/p90/p99.
 *
 * <p>Creates a tenant with a token budget and limits so generous that every check runs but none refuses, and a key
 * of it, then sends the requests with the key: half {@code GET /v1/models} (the gateway alone), half one-token
 * completions (adding the model-scope check and the settlement of tokens, usage row and audit row after the
 * generation). The timer's quantiles cover the last minutes of /v1 traffic: run it on a freshly started server.
 */
public final class GatewayBenchCommand {

    public static final String USAGE = """
              gateway-bench [REQUESTS] [CONCURRENCY]
                         the gateway's overhead per /v1 request (p50/p90/p99/max of anvil.gateway.overhead) on a
                         running server; REQUESTS (default 2000) sent CONCURRENCY (default 4) at a time
                         environment: ANVIL_URL (default http://127.0.0.1:8080), ANVIL_ADMIN_USER (default admin),
                         ANVIL_ADMIN_PASSWORD (required: a tenant and a key are created through the admin API)
            """;

    static final String OVERHEAD = "anvil_gateway_overhead_seconds";
    /** curl's code for a request that got no HTTP answer. */
    private static final String NO_ANSWER = "000";

    private GatewayBenchCommand() {}

    public static int run(String[] args, Map<String, String> env, PrintStream out) throws IOException {
        if (args.length > 2) throw new CliArgs.UsageException("gateway-bench takes at most REQUESTS and CONCURRENCY");
        int requests = positive(args, 0, 2000, "REQUESTS");
        int concurrency = positive(args, 1, 4, "CONCURRENCY");
        ServerClient server = ServerClient.asAdmin(env.getOrDefault("ANVIL_URL", "http://127.0.0.1:8080"), env);

        String tenant = "bench-" + System.currentTimeMillis() / 1000;
        server.adminPost(
                "/api/gateway/tenants",
                Json.createObjectBuilder()
                        .add("name", tenant)
                        .add("tokenBudget", 1_000_000_000_000L)
                        .add("requestsPerMinute", 100_000_000)
                        .add("tokensPerMinute", 100_000_000)
                        .build());
        String key = server.adminPost(
                                        "/api/gateway/tenants/" + tenant + "/keys",
                                        Json.createObjectBuilder()
                                                .add("name", "bench")
                                                .build())
                                .get("key")
                        instanceof JsonString s
                ? s.getString()
                : "";
        if (!key.startsWith("anv-")) throw new CommandFailedException("could not create a key: " + key);

        double countBefore =
                server.applicationMetrics().first(OVERHEAD + "_count").orElse(0);
        out.println("gateway-bench: " + requests + " requests, " + concurrency + " at a time, tenant " + tenant
                + ", key " + key.substring(0, Math.min(12, key.length())) + "...");
        long started = System.nanoTime();
        Map<String, Integer> codes = send(server, key, requests, concurrency);
        double wallSeconds = (System.nanoTime() - started) / 1e9;
        codes.forEach((code, n) -> out.println("gateway-bench: HTTP " + code + " x " + n));

        MetricSamples after = server.applicationMetrics();
        double measured = after.first(OVERHEAD + "_count").orElse(0) - countBefore;
        out.printf(
                Locale.ROOT,
                "gateway-bench: %s requests measured in %.1f s (client wall time)%n",
                count(measured),
                wallSeconds);
        out.println("gateway-bench: overhead per request  p50 " + micros(after.first(OVERHEAD, "quantile=\"0.5\""))
                + " us   p90 " + micros(after.first(OVERHEAD, "quantile=\"0.9\""))
                + " us   p99 " + micros(after.first(OVERHEAD, "quantile=\"0.99\""))
                + " us   max " + micros(after.first(OVERHEAD + "_max")) + " us");
        return 0;
    }

    private static int positive(String[] args, int index, int fallback, String name) {
        if (args.length <= index) return fallback;
        try {
            int n = Integer.parseInt(args[index].trim());
            if (n >= 1) return n;
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new CliArgs.UsageException(name + " must be a positive integer, got '" + args[index] + "'");
    }

    /**
     * Sends request 1..n, {@code concurrency} at a time: even ones {@code GET /v1/models}, odd ones a one-token
     * completion. Returns how many answered each HTTP status, in the order of the codes.
     */
    private static Map<String, Integer> send(ServerClient server, String key, int n, int concurrency)
            throws IOException {
        HttpClient http = server.httpClient();
        URI base = server.base();
        String completion = Json.createObjectBuilder()
                .add("model", "stories260k")
                .add("prompt", "Once")
                .add("max_tokens", 1)
                .add("temperature", 0)
                .build()
                .toString();
        AtomicInteger next = new AtomicInteger(1);
        Map<String, Integer> codes = new TreeMap<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(concurrency)) {
            List<Future<Map<String, Integer>>> clients = new ArrayList<>();
            for (int c = 0; c < concurrency; c++) {
                clients.add(pool.submit(() -> {
                    Map<String, Integer> mine = new TreeMap<>();
                    for (int i = next.getAndIncrement(); i <= n; i = next.getAndIncrement()) {
                        HttpRequest.Builder request = HttpRequest.newBuilder()
                                .timeout(Duration.ofSeconds(300))
                                .header("Authorization", "Bearer " + key);
                        request = i % 2 == 0
                                ? request.uri(base.resolve("v1/models")).GET()
                                : request.uri(base.resolve("v1/completions"))
                                        .header("Content-Type", "application/json")
                                        .POST(HttpRequest.BodyPublishers.ofString(completion));
                        mine.merge(status(http, request.build()), 1, Integer::sum);
                    }
                    return mine;
                }));
            }
            for (Future<Map<String, Integer>> client : clients) {
                try {
                    client.get().forEach((code, count) -> codes.merge(code, count, Integer::sum));
                } catch (Exception e) {
                    throw new IOException("gateway-bench client failed", e);
                }
            }
        }
        return codes;
    }

    private static String status(HttpClient http, HttpRequest request) throws InterruptedException {
        try {
            return String.valueOf(
                    http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode());
        } catch (IOException e) {
            return NO_ANSWER;
        }
    }

    /** A sample count as a whole number when it is one. */
    private static String count(double n) {
        return n == Math.rint(n) && Math.abs(n) < 1e15
                ? Long.toString((long) n)
                : String.format(Locale.ROOT, "%.6g", n);
    }

    /** Seconds as microseconds with one decimal; n/a for a sample the server did not publish. */
    private static String micros(OptionalDouble seconds) {
        return seconds.isPresent() ? String.format(Locale.ROOT, "%.1f", seconds.getAsDouble() * 1_000_000) : "n/a";
    }
}
