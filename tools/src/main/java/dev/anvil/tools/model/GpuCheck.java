package dev.anvil.tools.model;

import dev.anvil.engine.Batch;
import dev.anvil.engine.DeviceBackend;
import dev.anvil.engine.Json;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.cuda.CudaAccelerator;
import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code bin/anvil test-gpu} runs on a GPU machine (in the tools module: check and benchmark code stays out of
 * the EAR) (there is no JDK there: the bundle's jlink runtime runs this).
 *
 * <pre>
 *   GpuCheck reference MODEL.gguf OUTPUTS.jsonl TOLERANCE   llama.cpp's logits and greedy steps, teacher-forced,
 *                                                           on the GPU and on the CPU side by side
 *   GpuCheck agree MODEL.gguf TOLERANCE                     GPU against CPU logits over a prefill and 16 decodes
 *   GpuCheck bench MODEL.gguf BATCH...                      decode tokens/s at each batch size, and the fraction
 *                                                           of the HBM bound (weight bytes per step / bandwidth)
 * </pre>
 *
 * A failed check prints {@code FAIL} and the run exits 1. Tolerances are absolute logit differences; the GPU keeps
 * activations in fp32 where llama.cpp's CPU path rounds them to int8 (quantized weights) or fp16 (F16), so the
 * GPU's distance from the reference is the size of that rounding, not the CPU engine's last-bit distance.
 */
public final class GpuCheck {

    private static final PrintStream OUT = System.out;

    public static void main(String[] args) throws Exception {
        int failures = switch (args[0]) {
            case "reference" -> reference(Path.of(args[1]), Path.of(args[2]), Float.parseFloat(args[3]));
            case "agree" -> agree(Path.of(args[1]), Float.parseFloat(args[2]));
            case "bench" -> bench(Path.of(args[1]), args);
            default -> throw new IllegalArgumentException("unknown check " + args[0]);
        };
        System.exit(failures == 0 ? 0 : 1);
    }

    /** A model on the CPU and the same file on the GPU, each with its own KV pool. */
    private record Pair(LlamaModel cpu, LlamaModel gpu, KvCachePool cpuKv, KvCachePool gpuKv) implements AutoCloseable {
        static Pair load(Path file, long kvBytes) throws IOException {
            int threads = Runtime.getRuntime().availableProcessors();
            LlamaModel cpu = LlamaModel.load(file, Thread.ofPlatform().daemon().factory(), threads);
            LlamaModel gpu = LlamaModel.load(file, Thread.ofPlatform().daemon().factory(), 1);
            KvCachePool cpuKv = cpu.newKvCachePool(kvBytes), gpuKv = gpu.newKvCachePool(kvBytes);
            DeviceBackend b = new CudaAccelerator().open(gpu, 0, gpuKv);
            gpu.attach(b);
            OUT.println("# " + file.getFileName() + " on " + b.description() + ": " + b.weightBytes()
                    + " weight bytes, " + b.kvBytes() + " KV bytes");
            return new Pair(cpu, gpu, cpuKv, gpuKv);
        }

        @Override
        public void close() {
            cpu.close();
            gpu.close();
        }
    }

    static int reference(Path model, Path outputs, float tolerance) throws IOException {
        int failures = 0, decisive = 0, agreed = 0;
        float worstRef = 0, worstCpu = 0;
        try (Pair p = Pair.load(model, 64L << 20)) {
            for (String line : Files.readAllLines(outputs)) {
                if (line.isBlank()) continue;
                @SuppressWarnings("unchecked")
                Map<String, Object> o = (Map<String, Object>) Json.parse(line);
                int[] prompt = ints(o.get("prompt_tokens"));
                float[] first = floats(o.get("first_step_logits"));
                List<?> steps = (List<?>) o.get("steps");
                KvCachePool.Sequence sc = p.cpuKv.newSequence(), sg = p.gpuKv.newSequence();
                try {
                    p.cpuKv.reserve(sc, prompt.length + steps.size());
                    p.gpuKv.reserve(sg, prompt.length + steps.size());
                    float[] lg = p.gpu.forward(new Batch().add(sg, 0, prompt)).logits(0);
                    float[] lc = p.cpu.forward(new Batch().add(sc, 0, prompt)).logits(0);
                    worstRef = Math.max(worstRef, maxDiff(lg, first));
                    worstCpu = Math.max(worstCpu, maxDiff(lg, lc));
                    int at = prompt.length;
                    for (Object st : steps) {
                        @SuppressWarnings("unchecked")
                        Map<String, Object> step = (Map<String, Object>) st;
                        int token = ((BigDecimal) step.get("token")).intValue();
                        List<?> top = (List<?>) step.get("top5");
                        float gap = num(((List<?>) top.get(0)).get(1)) - num(((List<?>) top.get(1)).get(1));
                        if (gap > 2 * tolerance) {
                            decisive++;
                            if (argmax(lg) == token) agreed++;
                            else {
                                failures++;
                                OUT.println("FAIL step at position " + at + ": GPU top-1 " + argmax(lg) + ", llama.cpp "
                                        + token + " (gap " + gap + ")");
                            }
                        }
                        lg = p.gpu.forward(new Batch().add(sg, at, token)).logits(0);
                        lc = p.cpu.forward(new Batch().add(sc, at, token)).logits(0);
                        worstCpu = Math.max(worstCpu, maxDiff(lg, lc));
                        at++;
                    }
                } catch (dev.anvil.engine.KvCacheFullException e) {
                    throw new IllegalStateException(e);
                } finally {
                    p.cpuKv.free(sc);
                    p.gpuKv.free(sg);
                }
            }
        }
        if (worstRef > tolerance) {
            failures++;
            OUT.println("FAIL first-step logits differ from llama.cpp's by " + worstRef + " > " + tolerance);
        }
        OUT.printf(
                Locale.ROOT,
                "%s %s: max|gpu-llama.cpp| %.4f (tolerance %.3f), max|gpu-cpu| %.4f, top-1 %d/%d decisive steps%n",
                failures == 0 ? "PASS" : "FAIL",
                model.getFileName(),
                worstRef,
                tolerance,
                worstCpu,
                agreed,
                decisive);
        return failures;
    }

    static int agree(Path model, float tolerance) throws Exception {
        float worst = 0;
        try (Pair p = Pair.load(model, 64L << 20)) {
            int[] prompt = new int[40];
            for (int i = 0; i < prompt.length; i++)
                prompt[i] = (i * 7919 + 13) % p.cpu.config().vocabSize();
            KvCachePool.Sequence sc = p.cpuKv.newSequence(), sg = p.gpuKv.newSequence();
            p.cpuKv.reserve(sc, prompt.length + 16);
            p.gpuKv.reserve(sg, prompt.length + 16);
            float[] lg = p.gpu.forward(new Batch().add(sg, 0, prompt)).logits(0);
            float[] lc = p.cpu.forward(new Batch().add(sc, 0, prompt)).logits(0);
            worst = maxDiff(lg, lc);
            for (int i = 0; i < 16; i++) {
                int tok = argmax(lc);
                lg = p.gpu.forward(new Batch().add(sg, prompt.length + i, tok)).logits(0);
                lc = p.cpu.forward(new Batch().add(sc, prompt.length + i, tok)).logits(0);
                worst = Math.max(worst, maxDiff(lg, lc));
            }
            OUT.printf(
                    Locale.ROOT,
                    "%s %s (%s): max|gpu-cpu| %.4f over prefill + 16 decodes (tolerance %.3f)%n",
                    worst <= tolerance ? "PASS" : "FAIL",
                    model.getFileName(),
                    p.cpu.weightType(),
                    worst,
                    tolerance);
        }
        return worst <= tolerance ? 0 : 1;
    }

    /** Decode steps of BATCH sequences at once after a 128-token prompt each; GPU only. */
    static int bench(Path model, String[] args) throws Exception {
        try (LlamaModel gpu =
                LlamaModel.load(model, Thread.ofPlatform().daemon().factory(), 1)) {
            int maxBatch = 0;
            for (int i = 2; i < args.length; i++) maxBatch = Math.max(maxBatch, Integer.parseInt(args[i]));
            long kvBytes =
                    (long) maxBatch * (128 + 80 + 16) * KvCachePool.bytesPerBlock(gpu.config()) / 16 + (64L << 20);
            KvCachePool kv = gpu.newKvCachePool(kvBytes);
            DeviceBackend b = new CudaAccelerator().open(gpu, 0, kv);
            gpu.attach(b);
            double bandwidth = Double.parseDouble(System.getProperty("anvil.bench.hbm-bytes-per-s", "3.35e12"));
            for (int i = 2; i < args.length; i++) {
                int batch = Integer.parseInt(args[i]);
                List<KvCachePool.Sequence> seqs = new ArrayList<>();
                Batch prefill = new Batch();
                for (int s = 0; s < batch; s++) {
                    KvCachePool.Sequence seq = kv.newSequence();
                    kv.reserve(seq, 128 + 80);
                    int[] prompt = new int[128];
                    for (int t = 0; t < prompt.length; t++)
                        prompt[t] = (s * 131 + t * 17) % gpu.config().vocabSize();
                    prefill.add(seq, 0, prompt);
                    seqs.add(seq);
                }
                gpu.forward(prefill);
                int steps = 64, warm = 4;
                long start = 0;
                for (int step = 0; step < steps + warm; step++) {
                    if (step == warm) start = System.nanoTime();
                    Batch d = new Batch();
                    for (KvCachePool.Sequence seq : seqs) d.add(seq, seq.length(), 1 + step);
                    gpu.forward(d);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                // A decode step streams every matrix once; of the embedding table it reads one row per token (unless
                // the classifier is the same tensor).
                var emb = gpu.weights().tokenEmbedding();
                long streamed = b.weightBytes()
                        - (gpu.weights().output() == emb ? 0 : emb.type().bytesFor((long) emb.rows() * emb.cols()));
                double stepsPerS = steps / seconds, bound = bandwidth / streamed;
                OUT.printf(
                        Locale.ROOT,
                        "BENCH %s %s batch %d: %.1f steps/s, %.1f tokens/s aggregate; HBM bound %.1f steps/s"
                                + " (%.2f GB of weights streamed per step at %.2f TB/s): %.0f%% of the bound%n",
                        model.getFileName(),
                        gpu.weightType(),
                        batch,
                        stepsPerS,
                        stepsPerS * batch,
                        bound,
                        streamed / 1e9,
                        bandwidth / 1e12,
                        100 * stepsPerS / bound);
                for (KvCachePool.Sequence seq : seqs) kv.free(seq);
            }
        }
        return 0;
    }

    private static float maxDiff(float[] a, float[] b) {
        float m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    private static float num(Object o) {
        return ((BigDecimal) o).floatValue();
    }

    private static int[] ints(Object list) {
        List<?> l = (List<?>) list;
        int[] a = new int[l.size()];
        for (int i = 0; i < a.length; i++) a[i] = ((BigDecimal) l.get(i)).intValue();
        return a;
    }

    private static float[] floats(Object list) {
        List<?> l = (List<?>) list;
        float[] a = new float[l.size()];
        for (int i = 0; i < a.length; i++) a[i] = num(l.get(i));
        return a;
    }

    private GpuCheck() {}
}
