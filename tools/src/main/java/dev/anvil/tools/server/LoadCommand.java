package dev.anvil.tools.server;

import dev.anvil.tools.CliArgs;
import dev.anvil.tools.CommandFailedException;
import dev.anvil.tools.JsonText;
import jakarta.json.Json;
import jakarta.json.JsonException;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
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
 * Uses {@code java.net.http}.
 */
public final class LoadCommand {

    public static final String USAGE = """
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

    /** What a run asks for; {@code model} null: the first one the server lists. */
    record Settings(
            String url,
            String model,
            int clients,
            int requests,
            int maxTokens,
            int promptTokens,
            float temperature,
            int timeoutSeconds) {}

    /** The figures of a run (latencies in ms); {@code errors} holds the first failures' messages. */
    record Figures(
            String url,
            String model,
            int clients,
            int requests,
            int failed,
            int maxTokens,
            double meanPromptTokens,
            double meanCompletionTokens,
            double wallSeconds,
            long outputTokens,
            double outputTokensPerSecond,
            double requestsPerSecond,
            double ttftP50,
            double ttftP99,
            double latencyP50,
            double latencyP99,
            double tpotP50,
            double tpotP99,
            List<String> errors) {}

    public static int run(String[] args, PrintStream out) throws IOException {
        CliArgs a = new CliArgs(
                args,
                Set.of("url", "clients", "requests", "max-tokens", "prompt-tokens", "model", "temperature", "timeout"),
                Set.of(),
                Set.of("json"));
        int clients = a.integer("clients", 1, 1, 4096);
        Settings settings = new Settings(
                a.string("url", "http://localhost:8080").replaceAll("/+$", ""),
                a.has("model") ? a.string("model", null) : null,
                clients,
                a.integer("requests", clients * 4, 1, 10_000_000),
                a.integer("max-tokens", 64, 1, 1_000_000),
                promptTokens(a.string("prompt-tokens", "40")),
                a.number("temperature", 0.8f, 0f, 2f),
                a.integer("timeout", 300, 1, 86_400));
        boolean json = a.flag("json");
        Figures figures = measure(settings);
        report(figures, json, out);
        return figures.failed() == 0 ? 0 : 1;
    }

    /** Runs the load; a {@link CommandFailedException} when the warm-up request fails. */
    static Figures measure(Settings s) throws IOException {
        URI base = ServerClient.baseUri(s.url());
        HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .executor(Executors.newVirtualThreadPerTaskExecutor())
                .build();
        String model = s.model() != null ? s.model() : ServerClient.firstModel(http, base);
        int clients = s.clients(), requests = s.requests(), maxTokens = s.maxTokens(), promptTokens = s.promptTokens();
        float temperature = s.temperature();
        int timeoutSeconds = s.timeoutSeconds();

        // Warm-up (not measured): one request that also calibrates how many words make the wanted prompt length.
        Result warm = send(http, base, model, prompt(0, promptTokens), maxTokens, temperature, 0, timeoutSeconds);
        if (!warm.ok()) throw new CommandFailedException("warm-up request failed: " + warm.error());
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
        return figures(results, wallSeconds, s.url(), model, clients, maxTokens);
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

    static Result send(
            HttpClient http,
            URI base,
            String model,
            String prompt,
            int maxTokens,
            float temperature,
            long seed,
            int timeoutSeconds) {
        String body = Json.createObjectBuilder()
                .add("model", model)
                .add("prompt", prompt)
                .add("max_tokens", maxTokens)
                .add("temperature", new BigDecimal(Float.toString(temperature)))
                .add("seed", seed)
                .add("stream", true)
                .add("stream_options", Json.createObjectBuilder().add("include_usage", true))
                .build()
                .toString();
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
                    JsonObject chunk = JsonText.object(data);
                    JsonValue error = chunk.get("error");
                    if (error != null && error != JsonValue.NULL) {
                        return failed("error event: " + data, t0);
                    }
                    if (JsonText.at(chunk, "choices", 0, "text") instanceof JsonString text
                            && !text.getString().isEmpty()) {
                        chunks++;
                        if (firstText == 0) firstText = System.nanoTime();
                    }
                    if (JsonText.at(chunk, "usage", "completion_tokens") instanceof JsonNumber n)
                        completionTokens = n.intValue();
                    if (JsonText.at(chunk, "usage", "prompt_tokens") instanceof JsonNumber n)
                        promptTokens = n.intValue();
                }
                if (!done) return failed("stream ended without data: [DONE]", t0);
                if (completionTokens < 0) return failed("stream carried no usage chunk", t0);
            }
        } catch (IOException | IllegalArgumentException | JsonException e) {
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

    private static Figures figures(
            List<Result> results, double wallSeconds, String url, String model, int clients, int maxTokens) {
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
        List<String> errors = results.stream()
                .filter(r -> !r.ok())
                .limit(3)
                .map(Result::error)
                .toList();
        return new Figures(
                url,
                model,
                clients,
                results.size(),
                results.size() - ok.size(),
                maxTokens,
                promptMean,
                completionMean,
                wallSeconds,
                outputTokens,
                outputTokens / wallSeconds,
                ok.size() / wallSeconds,
                percentile(ttft, 50),
                percentile(ttft, 99),
                percentile(latency, 50),
                percentile(latency, 99),
                percentile(tpot, 50),
                percentile(tpot, 99),
                errors);
    }

    private static void report(Figures f, boolean json, PrintStream out) {
        if (json) {
            out.println(JsonText.write(g -> {
                g.writeStartObject()
                        .write("url", f.url())
                        .write("model", f.model())
                        .write("clients", f.clients())
                        .write("requests", f.requests())
                        .write("failed", f.failed())
                        .write("max_tokens", f.maxTokens());
                JsonText.number(g, "mean_prompt_tokens", f.meanPromptTokens());
                JsonText.number(g, "mean_completion_tokens", f.meanCompletionTokens());
                JsonText.number(g, "wall_seconds", f.wallSeconds());
                JsonText.number(g, "output_tokens_per_second", f.outputTokensPerSecond());
                JsonText.number(g, "requests_per_second", f.requestsPerSecond());
                JsonText.number(g, "ttft_ms_p50", f.ttftP50());
                JsonText.number(g, "ttft_ms_p99", f.ttftP99());
                JsonText.number(g, "latency_ms_p50", f.latencyP50());
                JsonText.number(g, "latency_ms_p99", f.latencyP99());
                JsonText.number(g, "tpot_ms_p50", f.tpotP50());
                JsonText.number(g, "tpot_ms_p99", f.tpotP99());
                g.writeEnd();
            }));
        } else {
            out.printf(
                    Locale.ROOT,
                    "server %s  model %s  clients %d  requests %d (%d failed)%n",
                    f.url(),
                    f.model(),
                    f.clients(),
                    f.requests(),
                    f.failed());
            out.printf(
                    Locale.ROOT,
                    "prompt tokens (mean) %.1f  completion tokens (mean) %.1f  max_tokens %d%n",
                    f.meanPromptTokens(),
                    f.meanCompletionTokens(),
                    f.maxTokens());
            out.printf(
                    Locale.ROOT,
                    "wall %.2f s  output %d tokens  %.1f tok/s  %.2f req/s%n",
                    f.wallSeconds(),
                    f.outputTokens(),
                    f.outputTokensPerSecond(),
                    f.requestsPerSecond());
            out.printf(Locale.ROOT, "TTFT     p50 %8.1f ms  p99 %8.1f ms%n", f.ttftP50(), f.ttftP99());
            out.printf(Locale.ROOT, "latency  p50 %8.1f ms  p99 %8.1f ms%n", f.latencyP50(), f.latencyP99());
            out.printf(
                    Locale.ROOT,
                    "per output token (after the first)  p50 %.1f ms  p99 %.1f ms%n",
                    f.tpotP50(),
                    f.tpotP99());
        }
        for (String error : f.errors()) out.println("failed: " + error);
    }

    /** Nearest-rank percentile of sorted values; NaN when there are none. */
    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
    }
}
