package dev.anvil.tools.server;

import dev.anvil.tools.CliArgs;
import dev.anvil.tools.JsonText;
import jakarta.json.Json;
import jakarta.json.JsonObjectBuilder;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code anvil cache-bench}: measures requests answered by the server's response cache. Sends one deterministic
 * request ({@code temperature} 0) to fill the cache, then the identical request N times back to back, and reports
 * the server time of each hit (the {@code Server-Timing} header the server adds: from its first request filter to
 * the response headers) and the client's round-trip, at p50/p99. Every measured answer must say
 * {@code X-Anvil-Cache: hit}. Also reports the request thread's CPU time of plain hits (the header's {@code cpu}
 * entry), the work per hit independent of how busy the machine is. Uses {@code java.net.http}.
 */
public final class CacheBenchCommand {

    public static final String USAGE = """
              cache-bench  time response-cache hits: one request fills the cache, N identical ones are measured
                  --url URL              server base URL (default http://localhost:8080)
                  --model NAME           model (default: the first one GET /v1/models lists)
                  --requests N           measured requests (default 1000)
                  --max-tokens K         max_tokens of the cached generation (default 64)
                  --prompt TEXT          the prompt (default "Once upon a time")
                  --fill-wait S          seconds to wait for the first request's entry to be stored (default 30)
                  --stream               measure streamed requests (replayed SSE) instead of plain JSON
                  --json                 print the figures as one JSON object
            """;

    private static final Pattern DURATION = Pattern.compile("(?:^|,)\\s*app;[^,]*dur=([0-9.]+)");
    private static final Pattern CPU = Pattern.compile("(?:^|,)\\s*cpu;[^,]*dur=([0-9.]+)");
    private static final Pattern STAGE = Pattern.compile("(?:^|,)\\s*cache;[^,]*dur=([0-9.]+)");

    private CacheBenchCommand() {}

    public static int run(String[] args, PrintStream out, PrintStream err) throws IOException {
        CliArgs a = new CliArgs(
                args,
                Set.of("url", "model", "requests", "max-tokens", "prompt", "fill-wait"),
                Set.of(),
                Set.of("stream", "json"));
        String url = a.string("url", "http://localhost:8080").replaceAll("/+$", "");
        int requests = a.integer("requests", 1000, 1, 10_000_000);
        int maxTokens = a.integer("max-tokens", 64, 1, 1_000_000);
        String prompt = a.string("prompt", "Once upon a time");
        int fillWaitSeconds = a.integer("fill-wait", 30, 1, 3600);
        boolean stream = a.flag("stream");
        boolean json = a.flag("json");
        URI base = ServerClient.baseUri(url);
        HttpClient http = ServerClient.newHttpClient();
        String model = a.has("model") ? a.string("model", null) : ServerClient.firstModel(http, base);
        JsonObjectBuilder fields = Json.createObjectBuilder()
                .add("model", model)
                .add("prompt", prompt)
                .add("max_tokens", maxTokens)
                .add("temperature", 0);
        if (stream) fields.add("stream", true);
        String body = fields.build().toString();
        HttpRequest request = HttpRequest.newBuilder(base.resolve("v1/completions"))
                .timeout(Duration.ofSeconds(300))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();

        // Fill the cache, then wait until the entry is there (it is stored just after the first answer).
        HttpResponse<String> first = ServerClient.send(http, request);
        if (first.statusCode() != 200) {
            err.println("anvil cache-bench: the first request answered " + first.statusCode() + ": " + first.body());
            return 1;
        }
        long deadline = System.nanoTime() + fillWaitSeconds * 1_000_000_000L;
        while (!"hit".equals(first.headers().firstValue("X-Anvil-Cache").orElse(""))) {
            if (System.nanoTime() > deadline) {
                err.println("anvil cache-bench: the request is not answered from the cache (X-Anvil-Cache: "
                        + first.headers().firstValue("X-Anvil-Cache").orElse("absent") + "); is the cache enabled?");
                return 1;
            }
            first = ServerClient.send(http, request);
        }
        // Unmeasured warm-up: the server's JIT and the client's connection.
        for (int i = 0; i < Math.min(200, requests); i++) ServerClient.send(http, request);

        double[] server = new double[requests];
        double[] cpu = new double[requests];
        double[] stage = new double[requests];
        double[] client = new double[requests];
        int misses = 0;
        long start = System.nanoTime();
        for (int i = 0; i < requests; i++) {
            long t0 = System.nanoTime();
            HttpResponse<String> r = ServerClient.send(http, request);
            client[i] = (System.nanoTime() - t0) / 1e6;
            if (r.statusCode() != 200
                    || !"hit".equals(r.headers().firstValue("X-Anvil-Cache").orElse(""))) misses++;
            String timing = r.headers().firstValue("Server-Timing").orElse("");
            Matcher m = DURATION.matcher(timing);
            server[i] = m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
            Matcher c = CPU.matcher(timing);
            cpu[i] = c.find() ? Double.parseDouble(c.group(1)) : Double.NaN;
            Matcher st = STAGE.matcher(timing);
            stage[i] = st.find() ? Double.parseDouble(st.group(1)) : Double.NaN;
        }
        double wall = (System.nanoTime() - start) / 1e9;
        java.util.Arrays.sort(server);
        java.util.Arrays.sort(client);
        // Streamed hits finish on another thread, so they carry no CPU figure.
        double[] cpuKnown = java.util.Arrays.stream(cpu)
                .filter(v -> !Double.isNaN(v))
                .sorted()
                .toArray();
        double[] stageKnown = java.util.Arrays.stream(stage)
                .filter(v -> !Double.isNaN(v))
                .sorted()
                .toArray();
        if (json) {
            int notHits = misses;
            out.println(JsonText.write(g -> {
                g.writeStartObject()
                        .write("url", url)
                        .write("model", model)
                        .write("mode", stream ? "stream" : "plain")
                        .write("requests", requests)
                        .write("not_hits", notHits);
                JsonText.number(g, "server_ms_p50", LoadCommand.percentile(server, 50));
                JsonText.number(g, "server_ms_p99", LoadCommand.percentile(server, 99));
                JsonText.number(g, "server_cpu_ms_p50", LoadCommand.percentile(cpuKnown, 50));
                JsonText.number(g, "server_cpu_ms_p99", LoadCommand.percentile(cpuKnown, 99));
                JsonText.number(g, "cache_stage_ms_p50", LoadCommand.percentile(stageKnown, 50));
                JsonText.number(g, "cache_stage_ms_p99", LoadCommand.percentile(stageKnown, 99));
                JsonText.number(g, "client_ms_p50", LoadCommand.percentile(client, 50));
                JsonText.number(g, "client_ms_p99", LoadCommand.percentile(client, 99));
                JsonText.number(g, "requests_per_second", requests / wall);
                g.writeEnd();
            }));
        } else {
            out.printf(
                    Locale.ROOT,
                    "server %s  model %s  %s  %d requests (%d not answered from the cache)%n",
                    url,
                    model,
                    stream ? "streamed" : "plain",
                    requests,
                    misses);
            printPercentiles(out, "server time (Server-Timing)", server, "");
            if (cpuKnown.length > 0) {
                printPercentiles(out, "server CPU (Server-Timing)", cpuKnown, "  (request thread)");
            }
            if (stageKnown.length > 0) {
                printPercentiles(out, "cache stage (Server-Timing)", stageKnown, "  (key, lookup, replay)");
            }
            out.printf(
                    Locale.ROOT,
                    "client round-trip            p50 %.3f ms  p99 %.3f ms  (%.0f req/s, one client)%n",
                    LoadCommand.percentile(client, 50),
                    LoadCommand.percentile(client, 99),
                    requests / wall);
        }
        return misses == 0 ? 0 : 1;
    }

    /** One line of the text report: {@code label} in a column of its own, then the p50 and p99 of {@code sortedMs}. */
    private static void printPercentiles(PrintStream out, String label, double[] sortedMs, String note) {
        out.printf(
                Locale.ROOT,
                "%-29sp50 %.3f ms  p99 %.3f ms%s%n",
                label,
                LoadCommand.percentile(sortedMs, 50),
                LoadCommand.percentile(sortedMs, 99),
                note);
    }
}
