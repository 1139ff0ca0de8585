package dev.anvil.engine.cli;

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
 * entry), the work per hit independent of how busy the machine is. Uses only {@code java.net.http}.
 */
final class CacheBenchCommand {

    static final String USAGE = """
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

    static int run(String[] args, PrintStream out, PrintStream err) throws IOException {
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
        URI base;
        try {
            base = URI.create(url + "/");
            if (base.getScheme() == null || !base.getScheme().startsWith("http"))
                throw new IllegalArgumentException("not http(s)");
        } catch (IllegalArgumentException e) {
            throw new CliArgs.UsageException("--url must be an http(s) URL, got '" + url + "'");
        }
        HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .build();
        String model = a.has("model") ? a.string("model", null) : firstModel(http, base);
        String body = "{\"model\":" + new Json().value(model) + ",\"prompt\":" + new Json().value(prompt)
                + ",\"max_tokens\":" + maxTokens + ",\"temperature\":0" + (stream ? ",\"stream\":true" : "") + "}";
        HttpRequest request = HttpRequest.newBuilder(base.resolve("v1/completions"))
                .timeout(Duration.ofSeconds(300))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();

        // Fill the cache, then wait until the entry is there (it is stored just after the first answer).
        HttpResponse<String> first = send(http, request);
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
            first = send(http, request);
        }
        // Unmeasured warm-up: the server's JIT and the client's connection.
        for (int i = 0; i < Math.min(200, requests); i++) send(http, request);

        double[] server = new double[requests];
        double[] cpu = new double[requests];
        double[] stage = new double[requests];
        double[] client = new double[requests];
        int misses = 0;
        long start = System.nanoTime();
        for (int i = 0; i < requests; i++) {
            long t0 = System.nanoTime();
            HttpResponse<String> r = send(http, request);
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
            out.println(new Json()
                    .beginObject()
                    .name("url")
                    .value(url)
                    .name("model")
                    .value(model)
                    .name("mode")
                    .value(stream ? "stream" : "plain")
                    .name("requests")
                    .value(requests)
                    .name("not_hits")
                    .value(misses)
                    .name("server_ms_p50")
                    .value(LoadCommand.percentile(server, 50))
                    .name("server_ms_p99")
                    .value(LoadCommand.percentile(server, 99))
                    .name("server_cpu_ms_p50")
                    .value(LoadCommand.percentile(cpuKnown, 50))
                    .name("server_cpu_ms_p99")
                    .value(LoadCommand.percentile(cpuKnown, 99))
                    .name("cache_stage_ms_p50")
                    .value(LoadCommand.percentile(stageKnown, 50))
                    .name("cache_stage_ms_p99")
                    .value(LoadCommand.percentile(stageKnown, 99))
                    .name("client_ms_p50")
                    .value(LoadCommand.percentile(client, 50))
                    .name("client_ms_p99")
                    .value(LoadCommand.percentile(client, 99))
                    .name("requests_per_second")
                    .value(requests / wall)
                    .endObject());
        } else {
            out.printf(
                    Locale.ROOT,
                    "server %s  model %s  %s  %d requests (%d not answered from the cache)%n",
                    url,
                    model,
                    stream ? "streamed" : "plain",
                    requests,
                    misses);
            out.printf(
                    Locale.ROOT,
                    "server time (Server-Timing)  p50 %.3f ms  p99 %.3f ms%n",
                    LoadCommand.percentile(server, 50),
                    LoadCommand.percentile(server, 99));
            if (cpuKnown.length > 0) {
                out.printf(
                        Locale.ROOT,
                        "server CPU (Server-Timing)   p50 %.3f ms  p99 %.3f ms  (request thread)%n",
                        LoadCommand.percentile(cpuKnown, 50),
                        LoadCommand.percentile(cpuKnown, 99));
            }
            if (stageKnown.length > 0) {
                out.printf(
                        Locale.ROOT,
                        "cache stage (Server-Timing)  p50 %.3f ms  p99 %.3f ms  (key, lookup, replay)%n",
                        LoadCommand.percentile(stageKnown, 50),
                        LoadCommand.percentile(stageKnown, 99));
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

    private static HttpResponse<String> send(HttpClient http, HttpRequest request) throws IOException {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private static String firstModel(HttpClient http, URI base) throws IOException {
        HttpResponse<String> response = send(
                http,
                HttpRequest.newBuilder(base.resolve("v1/models"))
                        .timeout(Duration.ofSeconds(30))
                        .GET()
                        .build());
        if (response.statusCode() != 200)
            throw new IOException("GET /v1/models answered " + response.statusCode() + ": " + response.body());
        Object id = JsonReader.path(JsonReader.parse(response.body()), "data", 0, "id");
        if (!(id instanceof String s)) throw new IOException("GET /v1/models lists no model; pass --model");
        return s;
    }
}
