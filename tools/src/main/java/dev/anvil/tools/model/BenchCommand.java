package dev.anvil.tools.model;

import dev.anvil.engine.Batch;
import dev.anvil.engine.ComputePool;
import dev.anvil.engine.ForwardResult;
import dev.anvil.engine.KvCacheFullException;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.ModelConfig;
import dev.anvil.tools.CliArgs;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * {@code anvil bench}: load time, heap after load, prefill throughput for one prompt, decode throughput with
 * {@code B} sequences advancing together through the batched forward pass, and peak RSS.
 *
 * <p>Tokens are a fixed pseudo-random id sequence (not a tokenized text) so the figures do not depend on the
 * tokenizer; decode feeds back the argmax, as greedy generation would. Full warm-up runs (prefill and decode at
 * the same batch size and length) precede the measured runs until one of them leaves the JIT nothing more to
 * compile, so the kernels that are then timed are the ones a warm server runs. Prefill is timed per sequence and averaged over the {@code B} prompts.
 */
public final class BenchCommand {

    /**
     * @param cpuShare process CPU time during the measured run divided by (wall time x threads): near 1 on an idle
     *                 machine, well below 1 when other processes took the cores (the figures are then pessimistic)
     */
    record Result(
            double loadSeconds,
            long heapAfterLoad,
            double prefillTokensPerSecond,
            double decodeAggregate,
            double decodePerSequence,
            long peakRssBytes,
            String weightType,
            ModelConfig config,
            double cpuShare) {}

    /** Most warm-up runs before the measured ones, settled or not. */
    static final int MAX_WARM_UPS = 8;
    /** A warm-up run during which the JIT compiled for less than this long counts as settled. */
    static final long SETTLED_JIT_MILLIS = 50;

    private BenchCommand() {}

    private static boolean isEncoder(Path model) throws IOException {
        if (!dev.anvil.engine.GgufFile.hasMagic(model)) return false;
        try (dev.anvil.engine.GgufFile f = dev.anvil.engine.GgufFile.open(model)) {
            return dev.anvil.engine.BertEncoder.isEncoder(f);
        }
    }

    /** Milliseconds the JIT has spent compiling so far (0 where the JVM does not tell: one warm-up then settles). */
    private static long jitMillis(java.lang.management.CompilationMXBean jit) {
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : 0;
    }

    public static int run(String[] args, PrintStream out, PrintStream err) throws IOException {
        CliArgs a = new CliArgs(
                args,
                Set.of("model", "prompt-tokens", "gen-tokens", "threads", "batch", "repeat", "llama-cpp"),
                Set.of(),
                Set.of());
        Path model = Path.of(a.string("model", GenerateCommand.DEFAULT_MODEL));
        int promptTokens = a.integer("prompt-tokens", 128, 1, 1 << 20);
        int genTokens = a.integer("gen-tokens", 64, 1, 1 << 20);
        int threads = a.integer("threads", Runtime.getRuntime().availableProcessors(), 1, 1024);
        int batch = a.integer("batch", 1, 1, 4096);
        int repeat = a.integer("repeat", 1, 1, 100);
        if (!Files.isRegularFile(model)) throw new CliArgs.UsageException("model file " + model + " does not exist");
        if (isEncoder(model)) {
            // An embedding model: B inputs of P tokens as one batched pass (no decode), against llama-embedding.
            return EmbeddingBench.run(
                    model,
                    promptTokens,
                    threads,
                    batch,
                    repeat,
                    a.has("llama-cpp") ? Path.of(a.required("llama-cpp")) : null,
                    out,
                    err);
        }
        LlamaCppReference reference =
                a.has("llama-cpp") ? new LlamaCppReference(Path.of(a.required("llama-cpp"))) : null;

        double uptimeBefore = loadAverage();
        // The reference runs just before and just after Anvil, and the better of its two runs counts: a machine that
        // drifts between minutes then favours llama.cpp, never Anvil.
        LlamaCppReference.Result before = null;
        if (reference != null) {
            err.println("bench: llama.cpp reference run 1/2");
            before = reference.run(model, promptTokens, genTokens, threads, batch);
        }
        Result r = measure(model, promptTokens, genTokens, threads, batch, repeat, err);
        LlamaCppReference.Result ref = null;
        if (reference != null) {
            err.println("bench: llama.cpp reference run 2/2");
            ref = before.best(reference.run(model, promptTokens, genTokens, threads, batch));
        }
        double uptimeAfter = loadAverage();

        out.printf("anvil bench: %s%n", model);
        out.printf(
                "  model      %s, %s, dim %d, %d layers, %d heads / %d kv, ffn %d, vocab %d%n",
                r.config().architecture(),
                r.weightType(),
                r.config().dim(),
                r.config().layers(),
                r.config().heads(),
                r.config().kvHeads(),
                r.config().hiddenDim(),
                r.config().vocabSize());
        out.printf(
                "  settings   %d threads, prompt %d tokens, %d decode steps, batch %d, best of %d (file %,d bytes)%n",
                threads, promptTokens, genTokens, batch, repeat, Files.size(model));
        out.println("  ---------------------------------------------------------------");
        out.printf("  %-34s %12.3f s%n", "load time", r.loadSeconds());
        out.printf("  %-34s %12.1f MiB%n", "heap used after load", r.heapAfterLoad() / 1048576.0);
        out.printf("  %-34s %12.1f tok/s%n", "prefill (" + promptTokens + " tokens)", r.prefillTokensPerSecond());
        out.printf("  %-34s %12.1f tok/s%n", "decode, batch " + batch + ", aggregate", r.decodeAggregate());
        out.printf("  %-34s %12.1f tok/s%n", "decode, batch " + batch + ", per sequence", r.decodePerSequence());
        out.printf("  %-34s %12.1f MiB%n", "peak RSS (VmHWM)", r.peakRssBytes() / 1048576.0);
        out.printf("  %-34s %12.0f %%%n", "CPU share of " + threads + " threads", r.cpuShare() * 100);
        out.printf("  %-34s %5.2f -> %.2f%n", "1-min load average before/after", uptimeBefore, uptimeAfter);
        if (ref != null) {
            out.println("  --- against llama.cpp (llama-batched-bench, best of the runs before and after) ---");
            out.printf("  %-34s %s%n", "reference", reference.binary());
            out.printf(
                    "  %-34s %12.1f tok/s   anvil/llama.cpp %5.2fx%n",
                    "llama.cpp prefill",
                    ref.prefillTokensPerSecond(),
                    r.prefillTokensPerSecond() / ref.prefillTokensPerSecond());
            out.printf(
                    "  %-34s %12.1f tok/s   anvil/llama.cpp %5.2fx%n",
                    "llama.cpp decode, batch " + batch + ", aggregate",
                    ref.decodeAggregate(),
                    r.decodeAggregate() / ref.decodeAggregate());
        }
        return 0;
    }

    static Result measure(
            Path path, int promptTokens, int genTokens, int threads, int batch, int repeat, PrintStream log)
            throws IOException {
        long t0 = System.nanoTime();
        LlamaModel model = LlamaModel.load(path, ComputePool.defaultFactory(), threads);
        double loadSeconds = (System.nanoTime() - t0) / 1e9;
        try (model) {
            ModelConfig c = model.config();
            if (promptTokens + genTokens > c.contextLength()) {
                throw new CliArgs.UsageException("prompt-tokens + gen-tokens = " + (promptTokens + genTokens)
                        + " exceeds the model's context length " + c.contextLength());
            }
            System.gc();
            Runtime rt = Runtime.getRuntime();
            long heapAfterLoad = rt.totalMemory() - rt.freeMemory();

            int perSequence = KvCachePool.blocksFor(promptTokens + genTokens);
            KvCachePool kv = model.newKvCachePool(KvCachePool.bytesPerBlock(c) * perSequence * batch);
            int[] prompt = new int[promptTokens];
            long state = 0x2545F4914F6CDD1DL;
            for (int i = 0; i < promptTokens; i++) {
                state = state * 6364136223846793005L + 1442695040888963407L;
                prompt[i] = (int) Long.remainderUnsigned(state >>> 17, c.vocabSize());
            }

            // Warm-up: the same work as the measured run, repeated until a run leaves the JIT nothing to compile, so
            // the measured runs time the kernels C2 made of every method at these shapes (a server is measured warm;
            // on 2 cores one run of a large model ends before C2 has compiled what it ran in the interpreter).
            java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
            for (int w = 1; w <= MAX_WARM_UPS; w++) {
                if (log != null) log.println("bench: warm-up run " + w);
                long jitBefore = jitMillis(jit);
                runOnce(model, kv, prompt, genTokens, batch);
                if (jitMillis(jit) - jitBefore < SETTLED_JIT_MILLIS) break;
            }
            long cpuBefore = processCpuNanos(), wallBefore = System.nanoTime();
            double prefillSeconds = Double.MAX_VALUE, decodeSeconds = Double.MAX_VALUE;
            for (int run = 1; run <= repeat; run++) {
                if (log != null) log.println("bench: measured run " + run + "/" + repeat);
                // Best of the runs: on a shared machine the fastest run is the one least disturbed by others.
                double[] timings = runOnce(model, kv, prompt, genTokens, batch);
                prefillSeconds = Math.min(prefillSeconds, timings[0]);
                decodeSeconds = Math.min(decodeSeconds, timings[1]);
            }
            double cpuShare = (processCpuNanos() - cpuBefore) / (double) ((System.nanoTime() - wallBefore) * threads);
            double prefill = promptTokens / prefillSeconds;
            return new Result(
                    loadSeconds,
                    heapAfterLoad,
                    prefill,
                    (double) batch * genTokens / decodeSeconds,
                    genTokens / decodeSeconds,
                    peakRss(),
                    model.weightType().toString(),
                    c,
                    cpuShare);
        }
    }

    /** Prefills {@code batch} sequences one by one, then decodes them together; returns {prefill s/prompt, decode s}. */
    private static double[] runOnce(LlamaModel model, KvCachePool kv, int[] prompt, int steps, int batch) {
        KvCachePool.Sequence[] seqs = new KvCachePool.Sequence[batch];
        int[] next = new int[batch];
        try {
            long prefillNanos = 0;
            for (int s = 0; s < batch; s++) {
                seqs[s] = kv.newSequence();
                kv.reserve(seqs[s], prompt.length + steps);
                // Vary the first token so the sequences are not identical.
                int[] p = prompt.clone();
                p[0] = (p[0] + s) % model.config().vocabSize();
                long t = System.nanoTime();
                ForwardResult r = model.forward(new Batch().add(seqs[s], 0, p));
                prefillNanos += System.nanoTime() - t;
                next[s] = argmax(r.logits(0));
            }
            long t = System.nanoTime();
            for (int step = 0; step < steps; step++) {
                Batch b = new Batch();
                for (int s = 0; s < batch; s++) b.add(seqs[s], prompt.length + step, next[s]);
                ForwardResult r = model.forward(b);
                for (int s = 0; s < batch; s++) next[s] = argmax(r.logits(s));
            }
            long decodeNanos = System.nanoTime() - t;
            return new double[] {prefillNanos / 1e9 / batch, decodeNanos / 1e9};
        } catch (KvCacheFullException e) {
            throw new IllegalStateException("KV cache sized for the benchmark is too small", e);
        } finally {
            for (KvCachePool.Sequence s : seqs) if (s != null) kv.free(s);
        }
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /** Peak resident set size of this process (VmHWM), or -1 where /proc is unavailable. */
    static long peakRss() {
        return procStatusKb("VmHWM:") * 1024;
    }

    private static long procStatusKb(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    String[] parts = line.substring(key.length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]);
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    /** CPU time of the whole process (all threads, GC and JIT included), or 0 where the JVM cannot tell. */
    private static long processCpuNanos() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.OperatingSystemMXBean os) {
            return Math.max(0, os.getProcessCpuTime());
        }
        return 0;
    }

    private static double loadAverage() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }
}
