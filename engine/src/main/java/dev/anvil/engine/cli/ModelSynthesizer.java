package dev.anvil.engine.cli;

import dev.anvil.engine.GgmlType;
import dev.anvil.engine.GgufWriter;
import dev.anvil.engine.Quantizer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes a llama-architecture GGUF v3 model with random weights in a real model's shape (see {@link ModelShape})
 * and a synthetic byte-level BPE vocabulary of the real size ({@link SyntheticVocabulary}).
 *
 * <p>Weights are drawn from normal(0, 0.02) (the usual initialisation scale, which keeps activations bounded
 * through the residual stream); RMSNorm weights are 1 and stored as F32. Output is identical for identical
 * (shape, type, seed): every block of rows draws from its own generator seeded from (seed, tensor, block), so
 * the blocks can be generated and quantized on several threads and still come out the same.
 *
 * <p>Tensor types, following llama.cpp's quantizer (llama_tensor_get_type) for the requested type:
 * <ul>
 *   <li>F32, F16, BF16, Q8_0: every 2-D tensor in that type.</li>
 *   <li>Q4_0: 2-D tensors Q4_0, except the tied token embedding (which is also the output classifier):
 *       llama.cpp gives the classifier Q6_K, and Q8_0 where the row length is not a multiple of 256, as for
 *       SmolLM2's 576 and 960. This writer has no Q6_K encoder and uses Q8_0 in both cases.</li>
 *   <li>Q4_K: 2-D tensors Q4_K where the row length ({@code ne0}) is a multiple of 256; the others fall back
 *       to Q5_0 as llama.cpp does (for SmolLM2-135M that is every tensor with rows of 576, i.e. all but
 *       {@code ffn_down}); the token embedding/classifier as for Q4_0.</li>
 * </ul>
 */
public final class ModelSynthesizer {

    public static final float WEIGHT_STD = 0.02f;

    private final ModelShape shape;
    private final GgmlType type;
    private final long seed;
    private final PrintStream progress;

    public ModelSynthesizer(ModelShape shape, GgmlType type, long seed, PrintStream progress) {
        if (!Quantizer.WRITABLE.contains(type) || type == GgmlType.Q5_0) {
            throw new IllegalArgumentException(
                    "synth cannot write weight type " + type + " (use F32, F16, BF16, Q8_0, Q4_0 or Q4_K)");
        }
        this.shape = shape;
        this.type = type;
        this.seed = seed;
        this.progress = progress;
    }

    /** GGUF {@code general.file_type} (llama.cpp's LLAMA_FTYPE) for the requested type. */
    static int fileType(GgmlType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            case Q4_K -> 14; // MOSTLY_Q4_K_S: Q4_K nearly everywhere
            case BF16 -> 32;
            default -> throw new IllegalArgumentException(type.toString());
        };
    }

    /** The type a 2-D weight with rows of {@code ne0} values is stored in. */
    GgmlType typeFor(String tensor, long ne0) {
        boolean classifier = tensor.equals("token_embd.weight") || tensor.equals("output.weight");
        return switch (type) {
            case Q4_0 -> classifier ? GgmlType.Q8_0 : GgmlType.Q4_0;
            case Q4_K -> classifier ? GgmlType.Q8_0 : (ne0 % 256 == 0 ? GgmlType.Q4_K : GgmlType.Q5_0);
            default -> type;
        };
    }

    public void write(Path out) throws IOException {
        long started = System.nanoTime();
        ModelShape s = shape;
        SyntheticVocabulary vocab = SyntheticVocabulary.build(s.vocab(), s.specials(), s.specialsFirst());
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "synth");
            t.setDaemon(true);
            return t;
        });
        try (GgufWriter w = new GgufWriter(out)) {
            w.putString("general.architecture", "llama");
            w.putString("general.name", "anvil-synthetic-" + s.name());
            w.putUInt32("general.alignment", 32);
            w.putUInt32("llama.context_length", s.contextLength());
            w.putUInt32("llama.embedding_length", s.dim());
            w.putUInt32("llama.feed_forward_length", s.ffn());
            w.putUInt32("llama.block_count", s.layers());
            w.putUInt32("llama.attention.head_count", s.heads());
            w.putUInt32("llama.attention.head_count_kv", s.kvHeads());
            w.putUInt32("llama.rope.dimension_count", s.headSize());
            w.putFloat32("llama.rope.freq_base", s.ropeTheta());
            w.putFloat32("llama.attention.layer_norm_rms_epsilon", s.rmsEps());
            w.putUInt32("llama.vocab_size", s.vocab());
            w.putUInt32("general.file_type", fileType(type));
            w.putUInt32("general.quantization_version", 2);
            w.putString("tokenizer.ggml.model", "gpt2");
            w.putString("tokenizer.ggml.pre", s.preTokenizer());
            w.putStringArray("tokenizer.ggml.tokens", vocab.tokens());
            w.putInt32Array("tokenizer.ggml.token_type", vocab.types());
            w.putStringArray("tokenizer.ggml.merges", vocab.merges());
            w.putUInt32("tokenizer.ggml.bos_token_id", vocab.id(s.bosText()));
            w.putUInt32("tokenizer.ggml.eos_token_id", vocab.id(s.eosText()));
            w.putBool("tokenizer.ggml.add_bos_token", s.addBos());

            long d = s.dim(), kv = s.kvDim(), f = s.ffn(), v = s.vocab();
            w.addTensor("token_embd.weight", typeFor("token_embd.weight", d), d, v);
            for (int l = 0; l < s.layers(); l++) {
                String p = "blk." + l + ".";
                w.addTensor(p + "attn_norm.weight", GgmlType.F32, d);
                w.addTensor(p + "attn_q.weight", typeFor(p + "attn_q.weight", d), d, d);
                w.addTensor(p + "attn_k.weight", typeFor(p + "attn_k.weight", d), d, kv);
                w.addTensor(p + "attn_v.weight", typeFor(p + "attn_v.weight", d), d, kv);
                w.addTensor(p + "attn_output.weight", typeFor(p + "attn_output.weight", d), d, d);
                w.addTensor(p + "ffn_norm.weight", GgmlType.F32, d);
                w.addTensor(p + "ffn_gate.weight", typeFor(p + "ffn_gate.weight", d), d, f);
                w.addTensor(p + "ffn_up.weight", typeFor(p + "ffn_up.weight", d), d, f);
                w.addTensor(p + "ffn_down.weight", typeFor(p + "ffn_down.weight", f), f, d);
            }
            w.addTensor("output_norm.weight", GgmlType.F32, d);

            int tensorId = 0;
            writeRandom(w, "token_embd.weight", (int) d, (int) v, tensorId++, pool, threads);
            for (int l = 0; l < s.layers(); l++) {
                String p = "blk." + l + ".";
                writeOnes(w, p + "attn_norm.weight", (int) d);
                writeRandom(w, p + "attn_q.weight", (int) d, (int) d, tensorId++, pool, threads);
                writeRandom(w, p + "attn_k.weight", (int) d, (int) kv, tensorId++, pool, threads);
                writeRandom(w, p + "attn_v.weight", (int) d, (int) kv, tensorId++, pool, threads);
                writeRandom(w, p + "attn_output.weight", (int) d, (int) d, tensorId++, pool, threads);
                writeOnes(w, p + "ffn_norm.weight", (int) d);
                writeRandom(w, p + "ffn_gate.weight", (int) d, (int) f, tensorId++, pool, threads);
                writeRandom(w, p + "ffn_up.weight", (int) d, (int) f, tensorId++, pool, threads);
                writeRandom(w, p + "ffn_down.weight", (int) f, (int) d, tensorId++, pool, threads);
                if (progress != null) {
                    progress.printf(
                            "synth: layer %d/%d written (%.1f s)%n",
                            l + 1, s.layers(), (System.nanoTime() - started) / 1e9);
                }
            }
            writeOnes(w, "output_norm.weight", (int) d);
        } finally {
            pool.shutdownNow();
        }
    }

    private static void writeOnes(GgufWriter w, String name, int n) throws IOException {
        float[] ones = new float[n];
        Arrays.fill(ones, 1f);
        w.writeTensor(name, ones);
    }

    /** Streams a {@code rows x cols} normal(0, 0.02) matrix, a block of rows at a time, in order. */
    private void writeRandom(
            GgufWriter w, String name, int cols, int rows, int tensorId, ExecutorService pool, int threads)
            throws IOException {
        final GgmlType encoding = typeFor(name, cols);
        int rowsPerBlock = Math.max(1, (1 << 18) / cols);
        int blocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
        long tensorSeed = mix(seed * 0x9E3779B97F4A7C15L + tensorId);
        w.beginTensor(name);
        Deque<Future<byte[]>> window = new ArrayDeque<>();
        try {
            for (int b = 0; b < blocks; b++) {
                final int first = b * rowsPerBlock;
                final int count = Math.min(rowsPerBlock, rows - first);
                final long blockSeed = mix(tensorSeed + (b + 1) * 0xBF58476D1CE4E5B9L);
                window.add(pool.submit(() -> {
                    SplittableRandom rng = new SplittableRandom(blockSeed);
                    float[] values = new float[count * cols];
                    for (int i = 0; i < values.length; i++) values[i] = (float) (rng.nextGaussian() * WEIGHT_STD);
                    return Quantizer.quantize(encoding, values);
                }));
                if (window.size() >= 2 * threads) drain(w, window.poll());
            }
            while (!window.isEmpty()) drain(w, window.poll());
        } finally {
            for (Future<byte[]> f : window) f.cancel(true);
        }
    }

    private static void drain(GgufWriter w, Future<byte[]> block) throws IOException {
        try {
            byte[] bytes = block.get();
            w.write(bytes, 0, bytes.length);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while writing the model", e);
        } catch (ExecutionException e) {
            throw new IOException("generating weights failed: " + e.getCause(), e.getCause());
        }
    }

    /** SplitMix64 finaliser: spreads nearby seeds over unrelated generator states. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
