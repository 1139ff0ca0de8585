package dev.anvil.engine;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadFactory;

/**
 * Reads a model file into {@link ModelWeights}, its {@link ModelConfig} (with the family's
 * {@link ArchitectureTraits}) and tokenizer: GGUF (architectures {@link #ARCHITECTURES}) or a llama2.c {@code .bin} checkpoint, told apart by the GGUF magic. The weights stay in the
 * memory-mapped file; every inconsistency of a hostile or broken file becomes an {@link UnsupportedModelException}.
 */
final class ModelLoader {

    /** More transformer blocks than any real model has (the largest have ~130); bounds per-layer arrays before the tensors are looked up. */
    static final int MAX_LAYERS = 4096;

    private ModelLoader() {}

    /** Weights are read into memory this many bytes at a time, reporting {@link LoadProgress} after each. */
    static final long READ_CHUNK_BYTES = 32L << 20;

    static LlamaModel load(Path path, Path tokenizerPath, ThreadFactory threadFactory, int threads) throws IOException {
        return load(path, tokenizerPath, threadFactory, threads, LoadProgress.NONE);
    }

    static LlamaModel load(
            Path path, Path tokenizerPath, ThreadFactory threadFactory, int threads, LoadProgress progress)
            throws IOException {
        if (GgufFile.hasMagic(path)) {
            if (tokenizerPath != null)
                throw new IllegalArgumentException(path + " is GGUF: its tokenizer is inside the file");
            return loadGguf(path, threadFactory, threads, progress);
        }
        LlamaModel m = loadLlama2c(path, tokenizerPath, threadFactory, threads);
        long size = java.nio.file.Files.size(path);
        progress.weightsRead(0, size);
        progress.weightsRead(size, size);
        return m;
    }

    /**
     * Reads every tensor's bytes of the mapped file into memory, in file order and in chunks of
     * {@link #READ_CHUNK_BYTES}, reporting each step. The weights stay memory-mapped views; reading them here (rather
     * than on the first forward passes' page faults) makes the load's progress observable and its duration honest:
     * the warm-up and the first requests would read the same pages anyway. Returns the bytes read.
     */
    static long readWeights(GgufFile f, LoadProgress progress) {
        List<GgufFile.Tensor> tensors = new ArrayList<>(f.tensors().values());
        tensors.sort(java.util.Comparator.comparingLong(GgufFile.Tensor::offset));
        long total = 0;
        for (GgufFile.Tensor t : tensors) total += t.data().byteSize();
        long read = 0;
        progress.weightsRead(0, total);
        for (GgufFile.Tensor t : tensors) {
            MemorySegment data = t.data();
            for (long at = 0; at < data.byteSize(); at += READ_CHUNK_BYTES) {
                MemorySegment chunk = data.asSlice(at, Math.min(READ_CHUNK_BYTES, data.byteSize() - at));
                if (chunk.isMapped()) chunk.load();
                read += chunk.byteSize();
                progress.weightsRead(read, total);
            }
        }
        return read;
    }

    // ------------------------------------------------------------------------------------------------
    // GGUF

    /** What a GGUF file holds for one of the supported networks, checked; the weights still point into the file's mapping. */
    private record GgufParts(ModelWeights weights, Tokenizer tokenizer) {}

    /** The decoder families (GGUF {@code general.architecture}) whose traits {@link #traits} knows. */
    static final List<String> ARCHITECTURES = List.of("llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3");

    private static GgufParts parts(GgufFile f) {
        Path path = f.path();
        String arch = f.getString("general.architecture");
        if (BertEncoder.ARCHITECTURES.contains(arch)) {
            throw new UnsupportedModelException(path + ": architecture '" + arch
                    + "' is an embedding model (an encoder), not a generator: it runs as BertEncoder");
        }
        if (!ARCHITECTURES.contains(arch)) {
            throw new UnsupportedModelException(path + ": architecture '" + arch + "' is not supported (supported: "
                    + String.join(", ", ARCHITECTURES) + ", and " + String.join(", ", BertEncoder.ARCHITECTURES)
                    + " for embeddings)");
        }
        String p = arch + ".";
        GgufFile.Tensor embd = f.tensor("token_embd.weight");
        if (embd.shape().length != 2) {
            throw new UnsupportedModelException(path + ": tensor token_embd.weight has shape "
                    + java.util.Arrays.toString(embd.shape()) + ", expected [embedding_length, vocabulary]");
        }
        int dim = f.getInt(p + "embedding_length");
        int heads = f.getInt(p + "attention.head_count");
        int layers = f.getInt(p + "block_count");
        if (layers <= 0 || layers > MAX_LAYERS) {
            throw new UnsupportedModelException(
                    path + ": " + p + "block_count " + layers + " is outside 1.." + MAX_LAYERS);
        }
        if (heads <= 0)
            throw new UnsupportedModelException(path + ": " + p + "attention.head_count " + heads + " is not positive");
        // The head width is its own hyper-parameter (Qwen 3, Gemma): Q is heads * headDim wide, not dim.
        int headDim = f.has(p + "attention.key_length") ? f.getInt(p + "attention.key_length") : dim / heads;
        if (!f.has(p + "attention.key_length") && dim % heads != 0)
            throw new UnsupportedModelException("embedding width " + dim + " is not divisible by " + heads + " heads");
        int valueDim = f.getInt(p + "attention.value_length", headDim);
        if (valueDim != headDim) {
            throw new UnsupportedModelException(path + ": value heads of " + valueDim + " differ from key heads of "
                    + headDim + ", which this engine does not support");
        }
        if (headDim <= 0 || headDim > 1 << 16)
            throw new UnsupportedModelException(path + ": head width " + headDim + " is implausible");
        boolean tied = !f.tensors().containsKey("output.weight");
        long vocab = embd.shape()[1];
        if (vocab > Integer.MAX_VALUE)
            throw new UnsupportedModelException(path + ": vocabulary of " + vocab + " tokens");
        float ropeBase = f.getFloat(p + "rope.freq_base", 10000f);
        ArchitectureTraits traits = withRopeScaling(f, arch, traits(f, arch, layers, dim, heads, headDim, ropeBase));
        ModelConfig cfg = new ModelConfig(
                arch,
                dim,
                f.getInt(p + "feed_forward_length"),
                layers,
                heads,
                f.getInt(p + "attention.head_count_kv", heads),
                (int) vocab,
                f.getInt(p + "context_length"),
                f.getFloat(p + "attention.layer_norm_rms_epsilon", 1e-5f),
                ropeBase,
                f.getInt(p + "rope.dimension_count", headDim),
                tied,
                headDim,
                traits);
        int qDim = cfg.qDim(), kvDim = cfg.kvDim(), hidden = cfg.hiddenDim();
        List<ModelWeights.Layer> blocks = new ArrayList<>(layers);
        for (int l = 0; l < layers; l++) {
            String b = "blk." + l + ".";
            // Looked up in this order (matrices, then norms) so a broken file is refused at the same tensor as before.
            WeightMatrix q, k, v;
            if (traits.fusedQkv()) {
                // One [qDim + 2 kvDim][dim] tensor: Q rows, then K rows, then V rows; split into views of its rows.
                WeightMatrix qkv = WeightMatrix.of(f.tensor(b + "attn_qkv.weight"));
                if (qkv.rows() != qDim + 2 * kvDim) {
                    throw new UnsupportedModelException("tensor " + qkv.name() + " has " + qkv.rows()
                            + " rows, expected " + (qDim + 2 * kvDim) + " (Q, K, V)");
                }
                q = qkv.rowRange(b + "attn_qkv.weight[q]", 0, qDim);
                k = qkv.rowRange(b + "attn_qkv.weight[k]", qDim, kvDim);
                v = qkv.rowRange(b + "attn_qkv.weight[v]", qDim + kvDim, kvDim);
            } else {
                q = WeightMatrix.of(f.tensor(b + "attn_q.weight"));
                k = WeightMatrix.of(f.tensor(b + "attn_k.weight"));
                v = WeightMatrix.of(f.tensor(b + "attn_v.weight"));
            }
            WeightMatrix o = WeightMatrix.of(f.tensor(b + "attn_output.weight"));
            WeightMatrix gate, down, up;
            if (traits.fusedGateUp()) {
                // One [2 hidden][dim] ffn_up: the gate rows, then the up rows.
                WeightMatrix gateUp = WeightMatrix.of(f.tensor(b + "ffn_up.weight"));
                if (gateUp.rows() != 2 * hidden) {
                    throw new UnsupportedModelException("tensor " + gateUp.name() + " has " + gateUp.rows()
                            + " rows, expected " + 2 * hidden + " (gate, up)");
                }
                gate = gateUp.rowRange(b + "ffn_up.weight[gate]", 0, hidden);
                down = WeightMatrix.of(f.tensor(b + "ffn_down.weight"));
                up = gateUp.rowRange(b + "ffn_up.weight[up]", hidden, hidden);
            } else {
                gate = WeightMatrix.of(f.tensor(b + "ffn_gate.weight"));
                down = WeightMatrix.of(f.tensor(b + "ffn_down.weight"));
                up = WeightMatrix.of(f.tensor(b + "ffn_up.weight"));
            }
            float[] attnNorm = vector(f.tensor(b + "attn_norm.weight"), dim);
            float[] ffnNorm = vector(f.tensor(b + "ffn_norm.weight"), dim);
            // Biases: required where the family has them, taken when a file of another family happens to hold them.
            float[] bq = bias(f, b + "attn_q.bias", qDim, traits.qkvBias());
            float[] bk = bias(f, b + "attn_k.bias", kvDim, traits.qkvBias());
            float[] bv = bias(f, b + "attn_v.bias", kvDim, traits.qkvBias());
            float[] qNorm = traits.qkNorm() ? vector(f.tensor(b + "attn_q_norm.weight"), headDim) : null;
            float[] kNorm = traits.qkNorm() ? vector(f.tensor(b + "attn_k_norm.weight"), headDim) : null;
            float[] postAttn = traits.postNorms() ? vector(f.tensor(b + "post_attention_norm.weight"), dim) : null;
            float[] postFfn = traits.postNorms() ? vector(f.tensor(b + "post_ffw_norm.weight"), dim) : null;
            blocks.add(new ModelWeights.Layer(
                    attnNorm, q, k, v, o, ffnNorm, gate, down, up, bq, bk, bv, qNorm, kNorm, postAttn, postFfn));
        }
        WeightMatrix embedding = WeightMatrix.of(embd);
        WeightMatrix out = tied ? embedding : WeightMatrix.of(f.tensor("output.weight"));
        ModelWeights weights = new ModelWeights(
                cfg,
                embedding,
                blocks,
                vector(f.tensor("output_norm.weight"), dim),
                out,
                f.tensors().containsKey("rope_freqs.weight")
                        ? vector(f.tensor("rope_freqs.weight"), cfg.ropeDim() / 2)
                        : null);
        Tokenizer tok = f.has("tokenizer.ggml.model") ? Tokenizer.fromGguf(f) : null;
        if (tok != null && tok.vocabSize() != cfg.vocabSize()) {
            throw new UnsupportedModelException(path + ": the tokenizer has " + tok.vocabSize()
                    + " tokens but the embedding " + cfg.vocabSize() + " rows");
        }
        return new GgufParts(weights, tok);
    }

    /**
     * Each family's differences from Llama, from {@code general.architecture} and the metadata, with llama.cpp's
     * defaults where a key is optional. Attention scale: 1/sqrt(head_dim) on the scores, except where llama.cpp
     * scales Q instead (Phi-3, Gemma), which rounds differently once Q is rounded to fp16.
     */
    private static ArchitectureTraits traits(
            GgufFile f, String arch, int layers, int dim, int heads, int headDim, float ropeBase) {
        String p = arch + ".";
        ArchitectureTraits.Builder llama = ArchitectureTraits.builder(layers, headDim, ropeBase);
        return switch (arch) {
            case "llama" -> llama.build();
            case "qwen2" ->
                llama.rope(ArchitectureTraits.RopeStyle.NEOX).qkvBias().build();
            case "qwen3" ->
                llama.rope(ArchitectureTraits.RopeStyle.NEOX).qkNorm(true).build();
            case "phi3" ->
                // llama.cpp runs Phi-3 with full attention (its sliding_window key, where present, is not applied);
                // the fused tensors are what the converter writes.
                llama.rope(ArchitectureTraits.RopeStyle.NEOX)
                        .scaleQueries((float) (1.0 / StrictMath.sqrt(headDim)))
                        .fused(
                                f.tensors().containsKey("blk.0.attn_qkv.weight"),
                                !f.tensors().containsKey("blk.0.ffn_gate.weight"))
                        .build();
            case "gemma2", "gemma3" -> {
                boolean g3 = arch.equals("gemma3");
                // Local (sliding-window) layers: layer l is local unless it is the last of each period of
                // sliding_window_pattern layers (Gemma 2: every other layer, from layer 0; Gemma 3: 5 local, 1 global).
                int window = f.getInt(p + "attention.sliding_window", 4096);
                if (window <= 0) throw new UnsupportedModelException(p + "attention.sliding_window " + window);
                boolean[] local = slidingLayers(f, p + "attention.sliding_window_pattern", layers, g3 ? 6 : 2);
                int[] windows = new int[layers];
                float[] bases = new float[layers];
                float localBase = g3 ? f.getFloat(p + "rope.freq_base_swa", 10000f) : ropeBase;
                for (int l = 0; l < layers; l++) {
                    windows[l] = local[l] ? window : 0;
                    bases[l] = local[l] ? localBase : ropeBase;
                }
                // Q is scaled by 1/sqrt(query_pre_attn_scalar). GGUF has no key for it: llama.cpp takes head_dim,
                // except for the 27B models (46 / 62 blocks), whose query_pre_attn_scalar is n_embd / n_head.
                boolean is27B = layers == (g3 ? 62 : 46);
                double queryPreAttnScalar = is27B ? (double) dim / heads : headDim;
                yield llama.rope(ArchitectureTraits.RopeStyle.NEOX)
                        .qkNorm(g3)
                        .postNorms()
                        .embeddingScale((float) StrictMath.sqrt(dim))
                        .activation(ArchitectureTraits.Activation.GELU_TANH)
                        .softcaps(
                                g3 ? 0f : f.getFloat(p + "attn_logit_softcapping", 50f),
                                g3 ? 0f : f.getFloat(p + "final_logit_softcapping", 30f))
                        .scaleQueries((float) (1.0 / StrictMath.sqrt(queryPreAttnScalar)))
                        .layerWindow(windows)
                        .layerRopeBase(bases)
                        .build();
            }
            default -> throw new IllegalStateException(arch); // ARCHITECTURES was checked first
        };
    }

    /**
     * RoPE scaling as llama.cpp reads it: {@code rope.scaling.factor} (or the older {@code rope.scale_linear})
     * divides every angle, whatever {@code rope.scaling.type} says, except on Gemma 3's local layers; the types
     * that need more than that (YaRN, LongRoPE, ...) are refused rather than run wrongly. Per-dimension factors
     * ({@code rope_freqs.weight}, Llama 3.1) are read with the tensors.
     */
    private static ArchitectureTraits withRopeScaling(GgufFile f, String arch, ArchitectureTraits traits) {
        String p = arch + ".";
        String type = f.getString(p + "rope.scaling.type", "none");
        if (!type.equals("none") && !type.equals("linear")) {
            throw new UnsupportedModelException(f.path() + ": RoPE scaling type '" + type
                    + "' is not supported (supported: none, linear, and per-dimension rope_freqs factors)");
        }
        if (f.tensors().containsKey("rope_factors_long.weight") || f.tensors().containsKey("rope_factors_short.weight"))
            throw new UnsupportedModelException(
                    f.path() + ": LongRoPE factors (rope_factors_long/short) are not supported");
        float factor = f.getFloat(p + "rope.scaling.factor", f.getFloat(p + "rope.scale_linear", 0f));
        if (factor == 0f || factor == 1f) return traits;
        if (!(factor > 0) || !Float.isFinite(factor))
            throw new UnsupportedModelException(f.path() + ": RoPE scaling factor " + factor + " is not positive");
        return traits.withRopeScale(1f / factor, arch.equals("gemma3"));
    }

    /**
     * Which layers use the sliding window: {@code key} holds either a period n (layer l is local when
     * {@code l % n < n - 1}; 0 makes every layer local, as in llama.cpp) or one flag per layer.
     */
    private static boolean[] slidingLayers(GgufFile f, String key, int layers, int defaultPeriod) {
        boolean[] local = new boolean[layers];
        Object v = f.metadata().get(key);
        if (v instanceof boolean[] flags) {
            if (flags.length != layers)
                throw new UnsupportedModelException(key + " has " + flags.length + " flags for " + layers + " layers");
            return flags.clone();
        }
        int period = v instanceof Number n ? n.intValue() : defaultPeriod;
        if (v != null && !(v instanceof Number))
            throw new UnsupportedModelException(key + " is neither a period nor per-layer flags");
        if (period < 0) throw new UnsupportedModelException(key + " " + period + " is negative");
        for (int l = 0; l < layers; l++) local[l] = period == 0 || l % period < period - 1;
        return local;
    }

    /** A bias vector: required when {@code required}, else null where the file has none. */
    private static float[] bias(GgufFile f, String name, int n, boolean required) {
        if (!required && !f.tensors().containsKey(name)) return null;
        return vector(f.tensor(name), n);
    }

    /** See {@link LlamaModel#inspect}. */
    static ModelConfig inspect(GgufFile f) {
        return refusal(f.path(), () -> parts(f).weights().config());
    }

    /**
     * Runs {@code check}; an unexpected exception or error from code reading a hostile file (an index out of range,
     * an absurd allocation, a deep recursion) becomes the file's refusal, so that callers see one kind of failure.
     */
    static <T> T refusal(Path path, java.util.function.Supplier<T> check) {
        try {
            return check.get();
        } catch (UnsupportedModelException e) {
            throw e;
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
            throw new UnsupportedModelException(path + ": malformed model (" + e + ")", e);
        }
    }

    private static LlamaModel loadGguf(Path path, ThreadFactory tf, int threads, LoadProgress progress)
            throws IOException {
        GgufFile f = GgufFile.open(path);
        ComputePool pool = null;
        try {
            GgufParts g = refusal(path, () -> parts(f));
            readWeights(f, progress);
            pool = new ComputePool(threads, tf);
            ComputePool compute = pool;
            return refusal(
                    path,
                    () -> new LlamaModel(
                            g.weights(),
                            path,
                            f,
                            compute,
                            g.tokenizer(),
                            path + " contains no tokenizer (tokenizer.ggml.model is missing)"));
        } catch (RuntimeException | Error e) {
            if (pool != null) pool.close();
            f.close();
            throw e;
        }
    }

    /** A norm weight vector; these few kilobytes are the only weights copied to the heap. */
    private static float[] vector(GgufFile.Tensor t, int expected) {
        if (t.elementCount() != expected) {
            throw new UnsupportedModelException(
                    "tensor " + t.name() + " has " + t.elementCount() + " elements, expected " + expected);
        }
        WeightMatrix w = new WeightMatrix(t.name(), t.type(), 1, expected, t.data());
        float[] v = new float[expected];
        w.dequantizeRow(0, v, 0);
        return v;
    }

    // ------------------------------------------------------------------------------------------------
    // llama2.c

    /**
     * llama2.c checkpoint: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size
     * — negative when the classifier is stored separately — and seq_len), then fp32 tensors in the order
     * token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis_real, freq_cis_imag
     * [, wcls]. Each weight matrix is row-major [out][in], the same as a GGUF row. Without an explicit
     * tokenizer, llama2.c's convention is followed: {@code tok<vocab>.bin} next to the checkpoint, else
     * {@code tokenizer.bin} there.
     */
    private static LlamaModel loadLlama2c(Path path, Path tokenizerPath, ThreadFactory tf, int threads)
            throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment s = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            // The header's rules live in Llama2cHeader, which the registry also checks files with.
            Llama2cHeader header;
            try {
                header = Llama2cHeader.read(path);
            } catch (UnsupportedModelException e) {
                throw new UnsupportedModelException(
                        "not a GGUF file, and not a llama2.c checkpoint: " + e.getMessage(), e);
            }
            ModelConfig cfg = header.config();
            int dim = cfg.dim(), hidden = cfg.hiddenDim(), layers = cfg.layers(), heads = cfg.heads();
            int vocab = cfg.vocabSize(), seqLen = cfg.contextLength();
            boolean tied = header.sharedClassifier();
            int kvDim = cfg.kvDim();
            long[] off = {Llama2cHeader.BYTES};
            java.util.function.BiFunction<String, long[], MemorySegment> take = (name, rc) -> {
                long bytes = 4L * rc[0] * rc[1];
                if (off[0] + bytes > s.byteSize())
                    throw new UnsupportedModelException(path + ": truncated checkpoint at " + name);
                MemorySegment seg = s.asSlice(off[0], bytes);
                off[0] += bytes;
                return seg;
            };
            WeightMatrix embedding = new WeightMatrix(
                    "token_embedding", GgmlType.F32, vocab, dim, take.apply("token_embedding", new long[] {vocab, dim
                    }));
            // The checkpoint stores each tensor kind for all layers in one run; a block takes its slice of each.
            float[][] an = perLayerVectors(take.apply("rms_att", new long[] {layers, dim}), layers, dim);
            WeightMatrix[] wq =
                    perLayer("wq", take.apply("wq", new long[] {(long) layers * dim, dim}), layers, dim, dim);
            WeightMatrix[] wk =
                    perLayer("wk", take.apply("wk", new long[] {(long) layers * kvDim, dim}), layers, kvDim, dim);
            WeightMatrix[] wv =
                    perLayer("wv", take.apply("wv", new long[] {(long) layers * kvDim, dim}), layers, kvDim, dim);
            WeightMatrix[] wo =
                    perLayer("wo", take.apply("wo", new long[] {(long) layers * dim, dim}), layers, dim, dim);
            float[][] fn = perLayerVectors(take.apply("rms_ffn", new long[] {layers, dim}), layers, dim);
            WeightMatrix[] w1 =
                    perLayer("w1", take.apply("w1", new long[] {(long) layers * hidden, dim}), layers, hidden, dim);
            WeightMatrix[] w2 =
                    perLayer("w2", take.apply("w2", new long[] {(long) layers * dim, hidden}), layers, dim, hidden);
            WeightMatrix[] w3 =
                    perLayer("w3", take.apply("w3", new long[] {(long) layers * hidden, dim}), layers, hidden, dim);
            float[] finalNorm = take.apply("rms_final", new long[] {1, dim})
                    .toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
            take.apply("freq_cis", new long[] {seqLen, dim / heads}); // real and imaginary halves; recomputed instead
            WeightMatrix out = tied
                    ? embedding
                    : new WeightMatrix("wcls", GgmlType.F32, vocab, dim, take.apply("wcls", new long[] {vocab, dim}));
            List<ModelWeights.Layer> blocks = new ArrayList<>(layers);
            for (int l = 0; l < layers; l++)
                blocks.add(new ModelWeights.Layer(an[l], wq[l], wk[l], wv[l], wo[l], fn[l], w1[l], w2[l], w3[l]));
            Tokenizer tok = null;
            String problem = null;
            if (tokenizerPath != null) {
                tok = Llama2cTokenizer.read(tokenizerPath, vocab);
            } else {
                Path dir = path.toAbsolutePath().getParent();
                Path bySize = dir.resolve("tok" + vocab + ".bin"), generic = dir.resolve("tokenizer.bin");
                if (java.nio.file.Files.isRegularFile(bySize)) tok = Llama2cTokenizer.read(bySize, vocab);
                else if (java.nio.file.Files.isRegularFile(generic)) tok = Llama2cTokenizer.read(generic, vocab);
                else problem = "no tokenizer for " + path + ": neither " + bySize + " nor " + generic + " exists";
            }
            Tokenizer tokenizer = tok;
            String tokenizerProblem = problem;
            ComputePool pool = new ComputePool(threads, tf);
            try {
                return refusal(
                        path,
                        () -> new LlamaModel(
                                new ModelWeights(cfg, embedding, blocks, finalNorm, out),
                                path,
                                arena::close,
                                pool,
                                tokenizer,
                                tokenizerProblem));
            } catch (RuntimeException | Error e) {
                pool.close();
                throw e;
            }
        } catch (UnsupportedModelException | IOException e) {
            arena.close();
            throw e;
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
            arena.close();
            throw new UnsupportedModelException(path + ": malformed llama2.c checkpoint (" + e + ")", e);
        } catch (Error e) {
            arena.close();
            throw e;
        }
    }

    private static WeightMatrix[] perLayer(String name, MemorySegment all, int layers, int rows, int cols) {
        WeightMatrix[] r = new WeightMatrix[layers];
        long bytes = 4L * rows * cols;
        for (int l = 0; l < layers; l++)
            r[l] = new WeightMatrix(name + "[" + l + "]", GgmlType.F32, rows, cols, all.asSlice(l * bytes, bytes));
        return r;
    }

    private static float[][] perLayerVectors(MemorySegment all, int layers, int dim) {
        float[][] r = new float[layers][];
        for (int l = 0; l < layers; l++) {
            r[l] = all.asSlice(4L * l * dim, 4L * dim)
                    .toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
        }
        return r;
    }
}
