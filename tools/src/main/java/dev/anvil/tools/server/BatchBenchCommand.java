package dev.anvil.tools.server;

import dev.anvil.tools.CliArgs;
import dev.anvil.tools.CommandFailedException;
import dev.anvil.tools.JsonText;
import jakarta.json.JsonObject;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;

/**
 * {@code anvil batch-bench}: what a running Batch API job costs live traffic, on a running server. Measures closed-loop
 * streaming clients ({@link LoadCommand}: time to first token, per-stream decode speed) without a batch; then uploads
 * a JSONL file of {@code --batch-lines} chat requests ({@code POST /v1/files}), creates a batch from it ({@code POST
 * /v1/batches}), waits until its first lines are answered, and measures the same clients again while it runs. Prints
 * both side by side with their ratios, how many batch lines were answered per second during the measured live run and
 * overall, and whether the batch was still running when the live run ended (when it was not, the second run was
 * partly without it and the figure understates the cost). Batch lines run at LOW priority in the serving scheduler,
 * so live requests are scheduled first; this measures how much of that shows. The batch is cancelled when the figures
 * are taken unless {@code --wait} asks to see it finish. Anonymous, as {@code anvil load} is: for a server that
 * listens on loopback (API keys optional), where the batch belongs to the anonymous caller.
 */
public final class BatchBenchCommand {

    public static final String USAGE = """
              batch-bench  live TTFT and tokens/s without and with a large Batch API job running, on a running server
                  --url URL              server base URL (default http://localhost:8080)
                  --model NAME           model of both the live requests and the batch lines (default stories260k)
                  --clients N            concurrent live streaming clients (default 4)
                  --requests M           live requests of each load run (default 48)
                  --max-tokens K         max_tokens of each live request (default 64)
                  --batch-lines L        chat requests in the batch (default 240)
                  --batch-max-tokens T   max_tokens of each batch line (default 64)
                  --wait                 after the figures, wait for the batch to finish (default: cancel it)
            """;

    private static final Set<String> TERMINAL = Set.of("completed", "failed", "expired", "cancelled");

    private BatchBenchCommand() {}

    /** A batch's state at one poll. */
    record BatchState(String status, int total, int completed, int failed, long atNanos) {
        int done() {
            return completed + failed;
        }

        boolean over() {
            return TERMINAL.contains(status);
        }
    }

    public static int run(String[] args, PrintStream out) throws IOException {
        CliArgs a = new CliArgs(
                args,
                Set.of("url", "model", "clients", "requests", "max-tokens", "batch-lines", "batch-max-tokens"),
                Set.of(),
                Set.of("wait"));
        String url = a.string("url", "http://localhost:8080").replaceAll("/+$", "");
        String model = a.string("model", "stories260k");
        int clients = a.integer("clients", 4, 1, 4096);
        int requests = a.integer("requests", 48, 1, 10_000_000);
        int maxTokens = a.integer("max-tokens", 64, 1, 1_000_000);
        int lines = a.integer("batch-lines", 240, 1, 10_000);
        int batchTokens = a.integer("batch-max-tokens", 64, 1, 1_000_000);
        boolean wait = a.flag("wait");
        LoadCommand.Settings load = new LoadCommand.Settings(url, model, clients, requests, maxTokens, 40, 0.8f, 300);
        HttpClient http = ServerClient.newHttpClient();
        URI base = ServerClient.baseUri(url);

        out.println("live: " + clients + " streaming clients, " + requests + " requests of " + maxTokens + " tokens on "
                + model + "; batch: " + lines + " chat lines of " + batchTokens + " tokens");
        measure(load); // warm-up, not counted
        LoadCommand.Figures alone = measure(load);

        String fileId = upload(http, base, input(model, lines, batchTokens, Long.toString(System.nanoTime(), 36)));
        String batchId = createBatch(http, base, fileId);
        long created = System.nanoTime();
        BatchState s = state(http, base, batchId);
        while (s.done() == 0 && !s.over()) { // the job has started answering lines: its load is on
            if (System.nanoTime() - created > 120_000_000_000L) {
                throw new CommandFailedException(
                        "batch " + batchId + " answered no line in 120 s (status " + s.status() + ")");
            }
            sleep(200);
            s = state(http, base, batchId);
        }
        BatchState before = s;
        LoadCommand.Figures beside = measure(load);
        BatchState after = state(http, base, batchId);

        String cell = "%-34s %12s %12s %8s%n";
        out.printf(Locale.ROOT, cell, "", "no batch", "with batch", "ratio");
        row(out, "TTFT p50 (ms)", alone.ttftP50(), beside.ttftP50());
        row(out, "TTFT p99 (ms)", alone.ttftP99(), beside.ttftP99());
        row(out, "decode tokens/s per stream p50", 1000 / alone.tpotP50(), 1000 / beside.tpotP50());
        row(out, "decode tokens/s per stream p1", 1000 / alone.tpotP99(), 1000 / beside.tpotP99());
        row(out, "latency p99 (ms)", alone.latencyP99(), beside.latencyP99());
        row(out, "live output tokens/s (all)", alone.outputTokensPerSecond(), beside.outputTokensPerSecond());
        double seconds = (after.atNanos() - before.atNanos()) / 1e9;
        out.printf(
                Locale.ROOT,
                "batch %s: %d of %d lines done during the live run (%.2f lines/s); %s at its end%n",
                batchId,
                after.done() - before.done(),
                after.total(),
                (after.done() - before.done()) / seconds,
                after.over()
                        ? "already " + after.status() + " (the second run was partly without it)"
                        : "still running");

        if (wait) {
            BatchState end = after;
            while (!end.over()) {
                sleep(500);
                end = state(http, base, batchId);
            }
            out.printf(
                    Locale.ROOT,
                    "batch %s %s: %d answered, %d failed, %.2f lines/s from creation%n",
                    batchId,
                    end.status(),
                    end.completed(),
                    end.failed(),
                    end.done() / ((end.atNanos() - created) / 1e9));
        } else if (!after.over()) {
            send(http, base, "POST", "/v1/batches/" + batchId + "/cancel", "{}", "application/json");
            out.println("batch " + batchId + " cancelled (--wait lets it finish)");
        }
        return 0;
    }

    /**
     * The batch input: {@code lines} distinct greedy chat requests, marked with {@code run} so that no response cache
     * answers them from an earlier run's lines.
     */
    static String input(String model, int lines, int maxTokens, String run) {
        StringBuilder b = new StringBuilder();
        for (int i = 1; i <= lines; i++) {
            b.append("{\"custom_id\":\"line-")
                    .append(i)
                    .append("\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":")
                    .append(jakarta.json.Json.createValue(model))
                    .append(",\"temperature\":0,\"max_tokens\":")
                    .append(maxTokens)
                    .append(",\"messages\":[{\"role\":\"user\",\"content\":\"Tell story ")
                    .append(run)
                    .append(" number ")
                    .append(i)
                    .append(" about a cat\"}]}}\n");
        }
        return b.toString();
    }

    private static String upload(HttpClient http, URI base, String jsonl) throws IOException {
        String boundary = "anvil-" + UUID.randomUUID();
        String body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
                + "--" + boundary
                + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"batch-bench.jsonl\"\r\n"
                + "Content-Type: application/jsonl\r\n\r\n" + jsonl + "\r\n--" + boundary + "--\r\n";
        JsonObject file = send(http, base, "POST", "/v1/files", body, "multipart/form-data; boundary=" + boundary);
        return file.getString("id");
    }

    private static String createBatch(HttpClient http, URI base, String fileId) throws IOException {
        JsonObject batch = send(
                http,
                base,
                "POST",
                "/v1/batches",
                "{\"input_file_id\":" + jakarta.json.Json.createValue(fileId)
                        + ",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}",
                "application/json");
        return batch.getString("id");
    }

    private static BatchState state(HttpClient http, URI base, String id) throws IOException {
        JsonObject b = send(http, base, "GET", "/v1/batches/" + id, null, null);
        JsonObject c = b.getJsonObject("request_counts");
        return new BatchState(
                b.getString("status"), c.getInt("total"), c.getInt("completed"), c.getInt("failed"), System.nanoTime());
    }

    private static JsonObject send(
            HttpClient http, URI base, String method, String path, String body, String contentType) throws IOException {
        HttpRequest.Builder r = HttpRequest.newBuilder(base.resolve(path.substring(1)))
                .timeout(Duration.ofSeconds(60))
                .method(
                        method,
                        body == null
                                ? HttpRequest.BodyPublishers.noBody()
                                : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (contentType != null) r.header("Content-Type", contentType);
        HttpResponse<String> response = ServerClient.send(http, r.build());
        if (response.statusCode() / 100 != 2) {
            throw new CommandFailedException(method + " " + path + " answered " + response.statusCode() + ": "
                    + JsonText.abbreviated(response.body()));
        }
        return JsonText.object(response.body());
    }

    private static void row(PrintStream out, String name, double without, double with) {
        out.printf(Locale.ROOT, "%-34s %12.1f %12.1f %8.2f%n", name, without, with, with / without);
    }

    /** One load run that must succeed entirely: a failed live request would make the comparison meaningless. */
    private static LoadCommand.Figures measure(LoadCommand.Settings load) throws IOException {
        LoadCommand.Figures figures = LoadCommand.measure(load);
        if (figures.failed() > 0) {
            throw new CommandFailedException(figures.failed() + " of " + figures.requests() + " live requests failed: "
                    + String.join("; ", figures.errors()));
        }
        return figures;
    }

    private static void sleep(long ms) throws IOException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
