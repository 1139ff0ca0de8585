package dev.anvil.tools.model;

import dev.anvil.engine.GgmlType;
import dev.anvil.engine.GgufWriter;
import dev.anvil.engine.Quantizer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes a GGUF v3 model with random weights in a real model's shape (see {@link ModelShape}), laid out as
 * llama.cpp loads that architecture (llama, qwen2, qwen3, gemma2, phi3), with a synthetic vocabulary of the real
 * size and kind ({@link SyntheticVocabulary}) and the model's published chat template.
 *
 * <p>Weights are drawn from normal(0, 0.02) (the usual initialisation scale, which keeps activations bounded
 * through the residual stream; Qwen2's attention biases too); RMSNorm weights are 1 and stored as F32, as are
 * biases. Gemma's converter stores its norms as 1 + w, so 1 is also Gemma's untrained norm. Output is identical
 * for identical (shape, type, seed): every block of rows draws from its own generator seeded from (seed, tensor,
 * block), so the blocks can be generated and quantized on several threads and still come out the same. The file
 * is streamed (see {@link GgufWriter}): at most a few blocks of rows per thread are in memory, whatever the size.
 *
 * <p>Tensor types, following llama.cpp's quantizer (llama_tensor_get_type) for the requested type:
 * <ul>
 *   <li>F32, F16, BF16, Q8_0: every 2-D tensor in that type.</li>
 *   <li>Q4_0: 2-D tensors Q4_0, except the output classifier ({@code output.weight}, or the token embedding where
 *       it is tied): llama.cpp gives the classifier Q6_K, and Q8_0 where the row length is not a multiple of 256,
 *       as for SmolLM2's 576 and 960 or Qwen2.5-0.5B's 896. This writer has no Q6_K encoder and uses Q8_0 in both
 *       cases. An untied token embedding (Phi-3) is an ordinary Q4_0 tensor.</li>
 *   <li>Q4_K: 2-D tensors Q4_K where the row length ({@code ne0}) is a multiple of 256; the others fall back
 *       to Q5_0 as llama.cpp does (for SmolLM2-135M that is every tensor with rows of 576, i.e. all but
 *       {@code ffn_down}; for Qwen2.5-0.5B all but {@code ffn_down}'s rows of 4864); the classifier as for Q4_0.</li>
 * </ul>
 */
public final class ModelSynthesizer {

    public static final float WEIGHT_STD = 0.02f;

    /** One tensor of the file: GGML shape (ne0 first), storage type, and whether it is random or all ones. */
    public record PlannedTensor(String name, GgmlType type, long[] shape, boolean random) {}

    private final ModelShape shape;
    private final GgmlType type;
    private final long seed;
    private final PrintStream progress;
    /** Layers written: the first ones of the full shape's model, each with the weights it has there. */
    private final int keptLayers;
    /** First layer whose output projections are scaled by {@link #attenuation} (the layer count: none). */
    private int attenuateFrom;

    private float attenuation = 1;

    public ModelSynthesizer(ModelShape shape, GgmlType type, long seed, PrintStream progress) {
        this(shape, type, seed, progress, shape.layers());
    }

    /**
     * Writes only the first {@code keptLayers} transformer blocks of the model (shape, type, seed) describes, every
     * tensor with exactly the values it has in the full model (embedding, norms, classifier included): a shallow
     * version of it with the same vocabulary, the kind of draft self-speculative decoding uses (LayerSkip, Draft &amp;
     * Verify).
     */
    public ModelSynthesizer(ModelShape shape, GgmlType type, long seed, PrintStream progress, int keptLayers) {
        if (keptLayers < 1 || keptLayers > shape.layers())
            throw new IllegalArgumentException(
                    "layers must be in [1, " + shape.layers() + "] for " + shape.name() + ", was " + keptLayers);
        this.keptLayers = keptLayers;
        this.attenuateFrom = shape.layers();
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
        boolean classifier = tensor.equals("output.weight") || (shape.tied() && tensor.equals("token_embd.weight"));
        return switch (type) {
            case Q4_0 -> classifier ? GgmlType.Q8_0 : GgmlType.Q4_0;
            case Q4_K -> classifier ? GgmlType.Q8_0 : (ne0 % 256 == 0 ? GgmlType.Q4_K : GgmlType.Q5_0);
            default -> type;
        };
    }

    /**
     * Every tensor of the file in write order, with the names and GGML shapes llama.cpp's loader for the
     * architecture asks for ({@code {ne0, ne1}} = {inputs, outputs} for a weight).
     */
    public List<PlannedTensor> plan() {
        ModelShape s = shape;
        long d = s.dim(), q = s.qDim(), kv = s.kvDim(), f = s.ffn(), v = s.vocab(), hd = s.headDim();
        List<PlannedTensor> t = new ArrayList<>();
        matrix(t, "token_embd.weight", d, v);
        for (int l = 0; l < s.layers(); l++) {
            String p = "blk." + l + ".";
            ones(t, p + "attn_norm.weight", d);
            if (s.blocks().contains(ModelShape.Block.FUSED)) {
                matrix(t, p + "attn_qkv.weight", d, q + 2 * kv);
            } else {
                matrix(t, p + "attn_q.weight", d, q);
                matrix(t, p + "attn_k.weight", d, kv);
                matrix(t, p + "attn_v.weight", d, kv);
            }
            if (s.blocks().contains(ModelShape.Block.QKV_BIAS)) {
                t.add(new PlannedTensor(p + "attn_q.bias", GgmlType.F32, new long[] {q}, true));
                t.add(new PlannedTensor(p + "attn_k.bias", GgmlType.F32, new long[] {kv}, true));
                t.add(new PlannedTensor(p + "attn_v.bias", GgmlType.F32, new long[] {kv}, true));
            }
            if (s.blocks().contains(ModelShape.Block.QK_NORM)) {
                ones(t, p + "attn_q_norm.weight", hd);
                ones(t, p + "attn_k_norm.weight", hd);
            }
            matrix(t, p + "attn_output.weight", q, d);
            if (s.blocks().contains(ModelShape.Block.POST_NORMS)) ones(t, p + "post_attention_norm.weight", d);
            ones(t, p + "ffn_norm.weight", d);
            if (s.blocks().contains(ModelShape.Block.FUSED)) {
                matrix(t, p + "ffn_up.weight", d, 2 * f);
            } else {
                matrix(t, p + "ffn_gate.weight", d, f);
                matrix(t, p + "ffn_up.weight", d, f);
            }
            matrix(t, p + "ffn_down.weight", f, d);
            if (s.blocks().contains(ModelShape.Block.POST_NORMS)) ones(t, p + "post_ffw_norm.weight", d);
        }
        ones(t, "output_norm.weight", d);
        if (!s.tied()) matrix(t, "output.weight", d, v);
        return t;
    }

    private void matrix(List<PlannedTensor> t, String name, long cols, long rows) {
        t.add(new PlannedTensor(name, typeFor(name, cols), new long[] {cols, rows}, true));
    }

    private static void ones(List<PlannedTensor> t, String name, long n) {
        t.add(new PlannedTensor(name, GgmlType.F32, new long[] {n}, false));
    }

    public void write(Path out) throws IOException {
        long started = System.nanoTime();
        ModelShape s = shape;
        ModelShape.TokenizerSpec ts = s.tokenizer();
        SyntheticVocabulary vocab = SyntheticVocabulary.build(s.vocab(), ts);
        List<PlannedTensor> plan = plan();
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "synth");
            t.setDaemon(true);
            return t;
        });
        try (GgufWriter w = new GgufWriter(out)) {
            String a = s.architecture() + ".";
            w.putString("general.architecture", s.architecture());
            w.putString("general.name", "anvil-synthetic-" + s.name());
            w.putUInt32("general.alignment", 32);
            w.putUInt32(a + "context_length", s.contextLength());
            w.putUInt32(a + "embedding_length", s.dim());
            w.putUInt32(a + "feed_forward_length", s.ffn());
            w.putUInt32(a + "block_count", keptLayers);
            w.putUInt32(a + "attention.head_count", s.heads());
            w.putUInt32(a + "attention.head_count_kv", s.kvHeads());
            if (s.explicitHeadDim()) {
                w.putUInt32(a + "attention.key_length", s.headDim());
                w.putUInt32(a + "attention.value_length", s.headDim());
            }
            w.putUInt32(a + "rope.dimension_count", s.headDim());
            w.putFloat32(a + "rope.freq_base", s.ropeTheta());
            w.putFloat32(a + "attention.layer_norm_rms_epsilon", s.rmsEps());
            for (Map.Entry<String, Object> e : s.archMetadata().entrySet()) {
                switch (e.getValue()) {
                    case Float x -> w.putFloat32(a + e.getKey(), x);
                    case Integer x -> w.putUInt32(a + e.getKey(), x);
                    default -> throw new IllegalStateException(e.getKey() + ": " + e.getValue());
                }
            }
            w.putUInt32(a + "vocab_size", s.vocab());
            w.putUInt32("general.file_type", fileType(type));
            w.putUInt32("general.quantization_version", 2);
            w.putString("tokenizer.ggml.model", ts.model());
            w.putString("tokenizer.ggml.pre", ts.pre());
            w.putStringArray("tokenizer.ggml.tokens", vocab.tokens());
            if (ts.sentencePiece()) w.putFloat32Array("tokenizer.ggml.scores", vocab.scores());
            w.putInt32Array("tokenizer.ggml.token_type", vocab.types());
            if (!ts.sentencePiece()) w.putStringArray("tokenizer.ggml.merges", vocab.merges());
            w.putUInt32("tokenizer.ggml.bos_token_id", idOf(vocab, ts.bos()));
            w.putUInt32("tokenizer.ggml.eos_token_id", idOf(vocab, ts.eos()));
            if (ts.unknown() != null) w.putUInt32("tokenizer.ggml.unknown_token_id", idOf(vocab, ts.unknown()));
            if (ts.padding() != null) w.putUInt32("tokenizer.ggml.padding_token_id", idOf(vocab, ts.padding()));
            w.putBool("tokenizer.ggml.add_bos_token", ts.addBos());
            if (ts.sentencePiece()) w.putBool("tokenizer.ggml.add_eos_token", false);
            if (ts.addSpacePrefix() != null) w.putBool("tokenizer.ggml.add_space_prefix", ts.addSpacePrefix());
            String template = s.chatTemplate();
            if (template != null) w.putString("tokenizer.chat_template", template);

            // A tensor's generator is seeded by its index among the full model's random tensors, kept layers or not.
            Map<String, Integer> ids = new java.util.HashMap<>();
            for (PlannedTensor t : plan) if (t.random()) ids.put(t.name(), ids.size());
            plan = plan.stream().filter(t -> kept(t.name())).toList();
            for (PlannedTensor t : plan) w.addTensor(t.name(), t.type(), t.shape());

            int layer = 0;
            for (PlannedTensor t : plan) {
                if (!t.random()) {
                    writeOnes(w, t.name(), Math.toIntExact(t.shape()[0]));
                } else {
                    int cols = Math.toIntExact(t.shape()[0]);
                    int rows = t.shape().length > 1 ? Math.toIntExact(t.shape()[1]) : 1;
                    writeRandom(w, t.name(), t.type(), cols, rows, ids.get(t.name()), pool, threads);
                }
                if (t.name().equals("blk." + layer + ".ffn_down.weight")) {
                    layer++;
                    if (progress != null) {
                        progress.printf(
                                "synth: layer %d/%d written (%.1f s)%n",
                                layer, keptLayers, (System.nanoTime() - started) / 1e9);
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Scales the output projections ({@code attn_output}, {@code ffn_down}) of layers {@code from} and later by
     * {@code factor}: those layers then write little into the residual stream, so the model's predictions stay close to
     * those of its first {@code from} layers. With the file of those layers alone ({@code keptLayers = from}, same
     * seed) that gives a draft/target pair that agrees the way a trained model and its distilled sibling do, which
     * random weights otherwise never do: a stand-in for benchmarking speculative decoding, not a model of anything.
     */
    public ModelSynthesizer attenuate(int from, float factor) {
        if (from < 1 || from > shape.layers())
            throw new IllegalArgumentException(
                    "attenuated layers must start in [1, " + shape.layers() + "], was " + from);
        if (!(factor > 0 && factor <= 1))
            throw new IllegalArgumentException("attenuation must be in (0, 1], was " + factor);
        this.attenuateFrom = from;
        this.attenuation = factor;
        return this;
    }

    /** The factor the values of {@code tensor} are drawn with (see {@link #attenuate}). */
    private float scaleOf(String tensor) {
        if (!tensor.startsWith("blk.")
                || !(tensor.endsWith(".attn_output.weight") || tensor.endsWith(".ffn_down.weight"))) return 1;
        return Integer.parseInt(tensor.substring(4, tensor.indexOf('.', 4))) >= attenuateFrom ? attenuation : 1;
    }

    /** Whether a tensor belongs to the layers written (every tensor outside the blocks does). */
    private boolean kept(String tensor) {
        if (!tensor.startsWith("blk.")) return true;
        return Integer.parseInt(tensor.substring(4, tensor.indexOf('.', 4))) < keptLayers;
    }

    private static int idOf(SyntheticVocabulary vocab, String text) {
        int id = vocab.id(text);
        if (id < 0) throw new IllegalStateException("token " + text + " is not in the vocabulary");
        return id;
    }

    private static void writeOnes(GgufWriter w, String name, int n) throws IOException {
        float[] ones = new float[n];
        Arrays.fill(ones, 1f);
        w.writeTensor(name, ones);
    }

    /** Streams a {@code rows x cols} normal(0, 0.02) matrix, a block of rows at a time, in order. */
    private void writeRandom(
            GgufWriter w,
            String name,
            GgmlType encoding,
            int cols,
            int rows,
            int tensorId,
            ExecutorService pool,
            int threads)
            throws IOException {
        int rowsPerBlock = Math.max(1, (1 << 18) / cols);
        int blocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
        long tensorSeed = mix(seed * 0x9E3779B97F4A7C15L + tensorId);
        double std = WEIGHT_STD * scaleOf(name);
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
                    for (int i = 0; i < values.length; i++) values[i] = (float) (rng.nextGaussian() * std);
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
