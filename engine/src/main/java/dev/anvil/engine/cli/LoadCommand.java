package dev.anvil.engine.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * {@code anvil load}: drives an OpenAI-compatible server with N concurrent streaming clients and reports
 * throughput and latency. Each client sends {@code /v1/completions} requests with {@code stream=true} one after
 * another until M requests were sent in total; token counts come from the server's {@code usage} (requested
 * with {@code stream_options.include_usage}), TTFT is the time until the first chunk with text.
 * Uses only {@code java.net.http}.
 */
final class LoadCommand {

    static final String USAGE = """
              load       load-test an OpenAI-compatible server with concurrent streaming clients
                  --url URL              server base URL (default http://localhost:8080)
                  --clients N            concurrent clients (default 1)
                  --requests M           requests in total (default 4 per client)
                  --max-tokens K         max_tokens per request (default 64)
                  --prompt-tokens P      approximate prompt length in tokens, '~40' accepted (default 40)
                  --model NAME           model (default: the first one GET /v1/models lists)
                  --temperature T        sampling temperature (default 0.8); requests use seeds 1, 2, ...
                                         and Cache-Control: no-store (a response cache never answers them)
                  --timeout S            per-request timeout in seconds (default 300)
                  --json                 print the figures as one JSON object
            """;

    /** Words the prompts are made of; mostly one token each in English BPE and SentencePiece vocabularies. */
    private static final String[] WORDS = ("the a little girl boy dog cat sun tree house park ball red blue green big "
                    + "small happy sad day night time once upon there was named who loved to play with her his friend mom "
                    + "dad went saw found said and but so then very good new old one two water sky bird fish box car "
                    + "book door hat toy cake milk bed rain snow wind star moon cold warm fast slow jump run walk look")
            .split(" ");

    private LoadCommand() {}

    /** The outcome of one request. */
    record Result(
            boolean ok,
            String error,
            long ttftNanos,
            long latencyNanos,
            int promptTokens,
            int completionTokens,
            int textChunks) {}

    static int run(String[] args, PrintStream out, PrintStream err) throws IOException {
        CliArgs a = new CliArgs(
                args,
                Set.of("url", "clients", "requests", "max-tokens", "prompt-tokens", "model", "temperature", "timeout"),
                Set.of(),
                Set.of("json"));
        String url = a.string("url", "http://localhost:8080").replaceAll("/+$", "");
        int clients = a.integer("clients", 1, 1, 4096);
        int requests = a.integer("requests", clients * 4, 1, 10_000_000);
        int maxTokens = a.integer("max-tokens", 64, 1, 1_000_000);
        int promptTokens = promptTokens(a.string("prompt-tokens", "40"));
        float temperature = a.number("temperature", 0.8f, 0f, 2f);
        int timeoutSeconds = a.integer("timeout", 300, 1, 86_400);
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
                .executor(Executors.newVirtualThreadPerTaskExecutor())
                .build();
        String model = a.has("model") ? a.string("model", null) : firstModel(http, base);

        // Warm-up (not measured): one request that also calibrates how many words make the wanted prompt length.
        Result warm = send(http, base, model, prompt(0, promptTokens), maxTokens, temperature, 0, timeoutSeconds);
        if (!warm.ok()) {
            err.println("anvil load: warm-up request failed: " + warm.error());
            return 1;
        }
        int words = warm.promptTokens() > 0
                ? Math.max(1, Math.round(promptTokens * (float) promptTokens / warm.promptTokens()))
                : promptTokens;

        AtomicInteger next = new AtomicInteger();
        List<Result> results = new ArrayList<>();
        long start = System.nanoTime();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<List<Result>>> futures = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                futures.add(pool.submit(() -> {
                    List<Result> mine = new ArrayList<>();
                    for (int r = next.getAndIncrement(); r < requests; r = next.getAndIncrement()) {
                        mine.add(send(
                                http,
                                base,
                                model,
                                prompt(r + 1, words),
                                maxTokens,
                                temperature,
                                r + 1,
                                timeoutSeconds));
                    }
                    return mine;
                }));
            }
            for (Future<List<Result>> f : futures) {
                try {
                    results.addAll(f.get());
                } catch (Exception e) {
                    throw new IOException("load client failed", e);
                }
            }
        }
        double wallSeconds = (System.nanoTime() - start) / 1e9;
        report(results, wallSeconds, url, model, clients, maxTokens, json, out);
        return results.stream().allMatch(Result::ok) ? 0 : 1;
    }

    static int promptTokens(String value) {
        String v = value.trim();
        if (v.startsWith("~")) v = v.substring(1);
        try {
            int n = Integer.parseInt(v.trim());
            if (n < 1 || n > 1_000_000)
                throw new CliArgs.UsageException("option --prompt-tokens must be between 1 and 1000000, got " + n);
            return n;
        } catch (NumberFormatException e) {
            throw new CliArgs.UsageException(
                    "option --prompt-tokens needs an integer (optionally prefixed with ~), got '" + value + "'");
        }
    }

    /** A distinct prompt per request (no two requests share more than a few leading words). */
    static String prompt(int index, int words) {
        StringBuilder sb = new StringBuilder();
        long state = 0x9E3779B97F4A7C15L * (index + 1);
        for (int w = 0; w < words; w++) {
            state = state * 6364136223846793005L + 1442695040888963407L;
            if (w > 0) sb.append(' ');
            sb.append(WORDS[(int) ((state >>> 33) % WORDS.length)]);
        }
        return sb.toString();
    }

    private static String firstModel(HttpClient http, URI base) throws IOException {
        HttpRequest request = HttpRequest.newBuilder(base.resolve("v1/models"))
                .timeout(Duration.ofSeconds(30))
                .GET()
                .build();
        try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                throw new IOException("GET /v1/models answered " + response.statusCode() + ": " + response.body());
            }
            Object id = JsonReader.path(JsonReader.parse(response.body()), "data", 0, "id");
            if (!(id instanceof String s)) throw new IOException("GET /v1/models lists no model; pass --model");
            return s;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    static Result send(
            HttpClient http,
            URI base,
            String model,
            String prompt,
            int maxTokens,
            float temperature,
            long seed,
            int timeoutSeconds) {
        String body = "{\"model\":" + new Json().value(model) + ",\"prompt\":" + new Json().value(prompt)
                + ",\"max_tokens\":" + maxTokens + ",\"temperature\":" + temperature + ",\"seed\":" + seed
                + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
        HttpRequest request = HttpRequest.newBuilder(base.resolve("v1/completions"))
                .timeout(Duration.ofSeconds(timeoutSeconds))
                .header("Content-Type", "application/json")
                .header("Accept", "text/event-stream")
                // Measure generation: seeded requests repeat, and a response cache would answer the repeats.
                .header("Cache-Control", "no-store")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
        long t0 = System.nanoTime();
        long firstText = 0;
        int promptTokens = 0, completionTokens = -1, chunks = 0;
        try {
            HttpResponse<Stream<String>> response = http.send(request, HttpResponse.BodyHandlers.ofLines());
            try (Stream<String> lines = response.body()) {
                if (response.statusCode() != 200) {
                    String text = String.join("\n", lines.limit(20).toList());
                    return failed("HTTP " + response.statusCode() + ": " + text, t0);
                }
                boolean done = false;
                for (Iterator<String> it = lines.iterator(); it.hasNext(); ) {
                    String line = it.next();
                    if (!line.startsWith("data:")) continue;
                    String data = line.substring(5).trim();
                    if (data.equals("[DONE]")) {
                        done = true;
                        break;
                    }
                    Object chunk = JsonReader.parse(data);
                    if (JsonReader.path(chunk, "error") != null) {
                        return failed("error event: " + data, t0);
                    }
                    if (JsonReader.path(chunk, "choices", 0, "text") instanceof String text && !text.isEmpty()) {
                        chunks++;
                        if (firstText == 0) firstText = System.nanoTime();
                    }
                    if (JsonReader.path(chunk, "usage", "completion_tokens") instanceof Double d)
                        completionTokens = d.intValue();
                    if (JsonReader.path(chunk, "usage", "prompt_tokens") instanceof Double d)
                        promptTokens = d.intValue();
                }
                if (!done) return failed("stream ended without data: [DONE]", t0);
                if (completionTokens < 0) return failed("stream carried no usage chunk", t0);
            }
        } catch (IOException | IllegalArgumentException e) {
            return failed(e.toString(), t0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return failed("interrupted", t0);
        }
        long end = System.nanoTime();
        return new Result(
                true,
                null,
                firstText == 0 ? end - t0 : firstText - t0,
                end - t0,
                promptTokens,
                completionTokens,
                chunks);
    }

    private static Result failed(String error, long t0) {
        return new Result(false, error, 0, System.nanoTime() - t0, 0, 0, 0);
    }

    private static void report(
            List<Result> results,
            double wallSeconds,
            String url,
            String model,
            int clients,
            int maxTokens,
            boolean json,
            PrintStream out) {
        List<Result> ok = results.stream().filter(Result::ok).toList();
        long outputTokens = ok.stream().mapToLong(Result::completionTokens).sum();
        double promptMean = ok.stream().mapToInt(Result::promptTokens).average().orElse(0);
        double completionMean =
                ok.stream().mapToInt(Result::completionTokens).average().orElse(0);
        double[] ttft =
                ok.stream().mapToDouble(r -> r.ttftNanos() / 1e6).sorted().toArray();
        double[] latency =
                ok.stream().mapToDouble(r -> r.latencyNanos() / 1e6).sorted().toArray();
        // Time per output token after the first, per request: the decode speed one client sees.
        double[] tpot = ok.stream()
                .filter(r -> r.completionTokens() > 1)
                .mapToDouble(r -> (r.latencyNanos() - r.ttftNanos()) / 1e6 / (r.completionTokens() - 1))
                .sorted()
                .toArray();
        int failures = results.size() - ok.size();
        double tokPerSec = outputTokens / wallSeconds;
        double reqPerSec = ok.size() / wallSeconds;
        if (json) {
            out.println(new Json()
                    .beginObject()
                    .name("url")
                    .value(url)
                    .name("model")
                    .value(model)
                    .name("clients")
                    .value(clients)
                    .name("requests")
                    .value(results.size())
                    .name("failed")
                    .value(failures)
                    .name("max_tokens")
                    .value(maxTokens)
                    .name("mean_prompt_tokens")
                    .value(promptMean)
                    .name("mean_completion_tokens")
                    .value(completionMean)
                    .name("wall_seconds")
                    .value(wallSeconds)
                    .name("output_tokens_per_second")
                    .value(tokPerSec)
                    .name("requests_per_second")
                    .value(reqPerSec)
                    .name("ttft_ms_p50")
                    .value(percentile(ttft, 50))
                    .name("ttft_ms_p99")
                    .value(percentile(ttft, 99))
                    .name("latency_ms_p50")
                    .value(percentile(latency, 50))
                    .name("latency_ms_p99")
                    .value(percentile(latency, 99))
                    .name("tpot_ms_p50")
                    .value(percentile(tpot, 50))
                    .endObject());
        } else {
            out.printf(
                    Locale.ROOT,
                    "server %s  model %s  clients %d  requests %d (%d failed)%n",
                    url,
                    model,
                    clients,
                    results.size(),
                    failures);
            out.printf(
                    Locale.ROOT,
                    "prompt tokens (mean) %.1f  completion tokens (mean) %.1f  max_tokens %d%n",
                    promptMean,
                    completionMean,
                    maxTokens);
            out.printf(
                    Locale.ROOT,
                    "wall %.2f s  output %d tokens  %.1f tok/s  %.2f req/s%n",
                    wallSeconds,
                    outputTokens,
                    tokPerSec,
                    reqPerSec);
            out.printf(
                    Locale.ROOT, "TTFT     p50 %8.1f ms  p99 %8.1f ms%n", percentile(ttft, 50), percentile(ttft, 99));
            out.printf(
                    Locale.ROOT,
                    "latency  p50 %8.1f ms  p99 %8.1f ms%n",
                    percentile(latency, 50),
                    percentile(latency, 99));
            out.printf(Locale.ROOT, "per output token (after the first)  p50 %.1f ms%n", percentile(tpot, 50));
        }
        if (failures > 0) {
            results.stream().filter(r -> !r.ok()).limit(3).forEach(r -> out.println("failed: " + r.error()));
        }
    }

    /** Nearest-rank percentile of sorted values; NaN when there are none. */
    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
    }
}
