package dev.anvil.tools.model;

import dev.anvil.engine.ComputePool;
import dev.anvil.engine.Generation;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.SamplingParams;
import dev.anvil.engine.Scheduler;
import dev.anvil.engine.SequenceListener;
import dev.anvil.engine.SequenceOutcome;
import dev.anvil.engine.SequenceRequest;
import dev.anvil.tools.CliArgs;
import dev.anvil.tools.CommandFailedException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code anvil prefix-bench}: a chat workload with one shared system prompt on the engine's continuous-batching
 * scheduler, with automatic prefix caching off and on, in the same process and run. N clients each send requests back
 * to back, every request the shared system prompt followed by a user message of its own; reported per setting: time
 * to first token (submission to the first generated token) p50/p99, output tokens/s, and the prefix cache's hit rate.
 *
 * <p>Tokens are fixed pseudo-random ids (as {@code bench}'s), so the figures do not depend on the tokenizer; decoding is
 * greedy. Each setting gets a fresh scheduler and KV pool (the cached run starts cold: its first request computes the
 * system prompt), and the settings alternate round by round (off, on, off, on ...) so drift of the machine does not
 * favour one. An unmeasured warm-up round of each (two clients) precedes them. Clients that start together are
 * admitted in the same step, before any block of the system prompt is computed and cached, so the first request of
 * each client may find nothing cached: the hit rate printed says how much was reused.
 */
public final class PrefixBenchCommand {

    public static final String USAGE = """
              prefix-bench  chat workload with a shared system prompt on the engine's scheduler: TTFT and tokens/s
                         with automatic prefix caching off and on, alternating in one run
                  --model FILE           model (default: models/stories260K.gguf)
                  --system-tokens N      shared system prompt length (default 500)
                  --user-tokens N        each request's own message length (default 24)
                  --clients C            concurrent clients (default 16)
                  --requests R           requests per client per round, back to back (default 1)
                  --max-tokens M         tokens generated per request (default 16)
                  --rounds K             measured rounds of each setting (default 2)
                  --threads T            compute threads (default: all processors)
                  --kv-cache-mib MIB     KV cache budget (default 256)
            """;

    private PrefixBenchCommand() {}

    /** One request's figures. */
    record Sample(double ttftSeconds, int generated) {}

    /** One round of one setting. */
    record Round(boolean cached, double[] ttftSorted, long generated, double wallSeconds, double hitRate) {
        double tokensPerSecond() {
            return generated / wallSeconds;
        }
    }

    public static int run(String[] args, PrintStream out, PrintStream err) throws IOException {
        CliArgs a = new CliArgs(
                args,
                Set.of(
                        "model",
                        "system-tokens",
                        "user-tokens",
                        "clients",
                        "requests",
                        "max-tokens",
                        "rounds",
                        "threads",
                        "kv-cache-mib"),
                Set.of(),
                Set.of());
        Path path = Path.of(a.string("model", GenerateCommand.DEFAULT_MODEL));
        int systemTokens = a.integer("system-tokens", 500, 1, 1 << 20);
        int userTokens = a.integer("user-tokens", 24, 1, 1 << 20);
        int clients = a.integer("clients", 16, 1, 1024);
        int requests = a.integer("requests", 1, 1, 1 << 20);
        int maxTokens = a.integer("max-tokens", 16, 1, 1 << 20);
        int rounds = a.integer("rounds", 2, 1, 100);
        int threads = a.integer("threads", Runtime.getRuntime().availableProcessors(), 1, 1024);
        long kvBytes = (long) a.integer("kv-cache-mib", 256, 1, 1 << 20) << 20;
        if (!Files.isRegularFile(path)) throw new CliArgs.UsageException("model file " + path + " does not exist");

        try (LlamaModel model = LlamaModel.load(path, ComputePool.defaultFactory(), threads)) {
            int context = model.config().contextLength();
            if (systemTokens + userTokens + maxTokens > context) {
                throw new CliArgs.UsageException("system + user + max tokens exceed the model's context of " + context);
            }
            int vocab = model.config().vocabSize();
            int[] system = randomTokens(new Random(1), systemTokens, vocab);
            err.println("prefix-bench: warm-up");
            for (boolean cached : new boolean[] {false, true}) // the same kernels, a shorter round
            round(model, cached, system, userTokens, Math.min(clients, 2), 1, maxTokens, kvBytes, vocab, -1);
            List<Round> results = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                for (boolean cached : new boolean[] {false, true}) {
                    err.printf("prefix-bench: round %d/%d, prefix caching %s%n", r + 1, rounds, cached ? "on" : "off");
                    results.add(
                            round(model, cached, system, userTokens, clients, requests, maxTokens, kvBytes, vocab, r));
                }
            }

            out.printf("anvil prefix-bench: %s%n", path);
            out.printf(
                    "  %d clients x %d requests per round, system prompt %d tokens + user %d tokens, %d tokens out"
                            + " (greedy), %d threads, KV cache %d MiB%n",
                    clients, requests, systemTokens, userTokens, maxTokens, threads, kvBytes >> 20);
            out.printf(
                    "  %-6s %-14s %12s %12s %12s %10s%n",
                    "round", "prefix cache", "TTFT p50", "TTFT p99", "output tok/s", "hit rate");
            double[] off = new double[rounds], on = new double[rounds];
            for (int i = 0; i < results.size(); i++) {
                Round r = results.get(i);
                double p50 = percentile(r.ttftSorted(), 50), p99 = percentile(r.ttftSorted(), 99);
                (r.cached() ? on : off)[i / 2] = p50;
                out.printf(
                        "  %-6d %-14s %9.1f ms %9.1f ms %12.1f %9.1f %%%n",
                        i / 2 + 1,
                        r.cached() ? "on" : "off",
                        p50 * 1000,
                        p99 * 1000,
                        r.tokensPerSecond(),
                        r.hitRate() * 100);
            }
            for (int i = 0; i < rounds; i++)
                out.printf("  round %d: TTFT p50 without / with prefix caching = %.2fx%n", i + 1, off[i] / on[i]);
        }
        return 0;
    }

    /** Tokens from a fixed pseudo-random sequence, clear of the lowest ids (where BOS/EOS and controls sit). */
    static int[] randomTokens(Random random, int n, int vocab) {
        int[] t = new int[n];
        int low = Math.min(vocab - 1, 8);
        for (int i = 0; i < n; i++) t[i] = low + random.nextInt(vocab - low);
        return t;
    }

    private static Round round(
            LlamaModel model,
            boolean cached,
            int[] system,
            int userTokens,
            int clients,
            int requests,
            int maxTokens,
            long kvBytes,
            int vocab,
            int roundIndex) {
        Scheduler scheduler = new Scheduler(model, new Scheduler.Config(kvBytes, 4096, 256, 32, cached));
        if (cached && !scheduler.prefixCaching())
            throw new CommandFailedException("this model's KV cache cannot share prefixes (sliding-window layers)");
        Thread loop = Thread.ofPlatform().name("prefix-bench-scheduler").start(scheduler);
        Sample[][] samples = new Sample[clients][requests];
        long start = System.nanoTime();
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int client = c;
            threads.add(Thread.ofPlatform().start(() -> {
                for (int q = 0; q < requests; q++) {
                    // Distinct per round, client and request, and the same in both settings of a round.
                    Random random = new Random(1_000_003L * (roundIndex + 2) + 1009L * client + q);
                    int[] prompt = concat(system, randomTokens(random, userTokens, vocab));
                    samples[client][q] = request(scheduler, prompt, maxTokens);
                }
            }));
        }
        try {
            for (Thread t : threads) t.join();
            double wall = (System.nanoTime() - start) / 1e9;
            Scheduler.Stats stats = scheduler.stats();
            scheduler.close();
            if (!scheduler.awaitLoopExit(60, TimeUnit.SECONDS)) throw new CommandFailedException("scheduler stuck");
            loop.join();
            double[] ttft = Arrays.stream(samples)
                    .flatMap(Arrays::stream)
                    .mapToDouble(Sample::ttftSeconds)
                    .sorted()
                    .toArray();
            long generated = Arrays.stream(samples)
                    .flatMap(Arrays::stream)
                    .mapToLong(Sample::generated)
                    .sum();
            double hitRate = stats.prefixCacheQueriedTokens() == 0
                    ? 0
                    : stats.prefixCacheHitTokens() / (double) stats.prefixCacheQueriedTokens();
            return new Round(cached, ttft, generated, wall, hitRate);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommandFailedException("interrupted");
        }
    }

    private static Sample request(Scheduler scheduler, int[] prompt, int maxTokens) {
        CompletableFuture<SequenceOutcome> done = new CompletableFuture<>();
        long[] first = {-1};
        long submitted = System.nanoTime();
        scheduler.submit(
                new SequenceRequest(prompt, SamplingParams.GREEDY, maxTokens, List.of()), new SequenceListener() {
                    @Override
                    public void onToken(Generation.Step step) {
                        if (first[0] < 0) first[0] = System.nanoTime();
                    }

                    @Override
                    public void onFinish(SequenceOutcome outcome) {
                        done.complete(outcome);
                    }

                    @Override
                    public void onError(Throwable error) {
                        done.completeExceptionally(error);
                    }
                });
        SequenceOutcome outcome = done.join();
        return new Sample((first[0] - submitted) / 1e9, outcome.generatedTokens());
    }

    /** Nearest-rank percentile of sorted values. */
    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int rank = (int) Math.ceil(p / 100 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
