package dev.anvil.engine;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.ThreadFactory;
import jdk.incubator.vector.FloatVector;

/**
 * A Llama-family decoder (Llama 2/3, TinyLlama, SmolLM, Mistral-style grouped-query attention) over weights
 * that stay in the memory-mapped model file.
 *
 * <p>Usage:
 * <pre>{@code
 * try (LlamaModel model = LlamaModel.load(path, ComputePool.defaultFactory())) {
 *     KvCachePool kv = model.newKvCachePool(64L << 20);
 *     KvCachePool.Sequence seq = kv.newSequence();
 *     kv.reserve(seq, prompt.length + 1);                       // throws KvCacheFullException when full
 *     float[] logits = model.forward(new Batch().add(seq, 0, prompt)).logits(0);
 *     ...
 *     kv.free(seq);
 * }
 * }</pre>
 *
 * <p>Formats: GGUF (architecture {@code llama}; any mix of the encodings in {@link WeightMatrix#SUPPORTED})
 * and llama2.c {@code .bin} checkpoints (fp32; the tokenizer is a separate file, e.g. {@code tok512.bin}).
 *
 * <p>The transformer, per block ({@code x} is the residual stream of all T tokens of a batch):
 * <pre>
 * h = RMSNorm(x) ; q,k,v = Wq h, Wk h, Wv h ; RoPE(q,k at each token's position) ; append k,v to the paged cache
 * x += Wo · softmax(q·Kᵀ/√d, causal) V          (per sequence, per head; kv head = head / (heads/kvHeads))
 * h = RMSNorm(x) ; x += W2 (SiLU(W1 h) ⊙ W3 h)
 * </pre>
 * then {@code logits = Wout RMSNorm(x)} for the positions whose logits are wanted. RoPE rotates interleaved
 * pairs {@code (2i, 2i+1)} by {@code pos·θ^(-2i/ropeDim)}: llama.cpp's "normal" mode, which GGUF llama
 * files are written for (the converter permutes Hugging Face Q/K rows into that order) and which llama2.c
 * uses natively.
 *
 * <p>Every matmul runs all T tokens of the batch against each weight row while that row is in cache, so a
 * batch of decode tokens of many sequences costs little more memory traffic than one. Not thread-safe:
 * one forward pass at a time (the scheduler's loop); each pass is itself parallel on the {@link ComputePool}.
 *
 * <p>Numerics follow llama.cpp (the reference the tests compare with): activations are rounded to the weight
 * type's dot-product format (int8 blocks for quantized weights, fp16 for F16), and keys, values, queries and
 * attention weights are rounded to fp16 as llama.cpp's default F16 KV cache does. Results are batch
 * invariant: a sequence's logits are bit-identical whatever else is in its batch and however its prompt was
 * chunked (same per-row arithmetic on every kernel path, lane sums in fixed order, StrictMath and {@link ExpF}
 * transcendentals), so seeded sampling reproduces exactly under continuous batching.
 */
public final class LlamaModel implements AutoCloseable {

    /**
     * From this many tokens on, a matmul dequantizes each row once and runs the 4x2 float tile kernel instead
     * of the fused per-token dot. Measured (thread CPU time, SmolLM2-135M ffn_up Q8_0 576x1536): fused dot
     * 240 us per token; vectorized Q8_0 dequantize 180 us per matrix + tile kernel 107 us per token, so the
     * switch pays from 2 tokens. Q4_0 dequantizes with vector code too; the other types dequantize with scalar
     * code (about 2-3x slower), hence 4.
     */
    /** More transformer blocks than any real model has (the largest have ~130); bounds per-layer arrays before the tensors are looked up. */
    static final int MAX_LAYERS = 4096;

    static int dequantMinTokens(GgmlType type) {
        return type == GgmlType.Q8_0 || type == GgmlType.Q4_0 || type == GgmlType.F32 ? 2 : 4;
    }

    private final ModelConfig config;
    private final Path path;
    private final AutoCloseable mapping;
    private final ComputePool pool;
    private final WeightMatrix tokenEmbedding;
    private final float[][] attnNorm, ffnNorm;
    private final WeightMatrix[] wq, wk, wv, wo, w1, w2, w3;
    private final float[] outputNorm;
    private final WeightMatrix output;
    private final float[][] workerScratch; // per worker: attention scores or dequantized rows
    /** Repacked copies of the Q8_0/Q4_0 matrices (off-heap, {@link #packedArena}); matmul uses them when present. */
    private final java.util.IdentityHashMap<WeightMatrix, PackedWeights> packed = new java.util.IdentityHashMap<>();

    private final Arena packedArena = Arena.ofShared();
    private final float[][] workerPanel; // per worker: a widened packed unit and its tile results
    private final int maxCols;
    private final Tokenizer tokenizer;
    private final String tokenizerProblem;

    private LlamaModel(
            ModelConfig config,
            Path path,
            AutoCloseable mapping,
            ComputePool pool,
            Tokenizer tokenizer,
            String tokenizerProblem,
            WeightMatrix tokenEmbedding,
            float[][] attnNorm,
            WeightMatrix[] wq,
            WeightMatrix[] wk,
            WeightMatrix[] wv,
            WeightMatrix[] wo,
            float[][] ffnNorm,
            WeightMatrix[] w1,
            WeightMatrix[] w2,
            WeightMatrix[] w3,
            float[] outputNorm,
            WeightMatrix output) {
        this.config = config;
        this.path = path;
        this.mapping = mapping;
        this.pool = pool;
        this.tokenizer = tokenizer;
        this.tokenizerProblem = tokenizerProblem;
        this.tokenEmbedding = tokenEmbedding;
        this.attnNorm = attnNorm;
        this.wq = wq;
        this.wk = wk;
        this.wv = wv;
        this.wo = wo;
        this.ffnNorm = ffnNorm;
        this.w1 = w1;
        this.w2 = w2;
        this.w3 = w3;
        this.outputNorm = outputNorm;
        this.output = output;
        this.maxCols = Math.max(config.dim(), config.hiddenDim());
        try {
            checkShapes(config, tokenEmbedding, output, wq, wk, wv, wo, w1, w2, w3);
            this.workerScratch = new float[pool.size()][Math.max(4 * maxCols, config.contextLength())];
            this.workerPanel = repack();
        } catch (RuntimeException | Error e) {
            packedArena.close();
            throw e;
        }
    }

    /**
     * Repacks every Q8_0/Q4_0 matrix of the layers and the classifier into {@link PackedWeights} (rows as vector
     * lanes), in parallel. Costs a second copy of those weights off the heap and a fraction of a second at load;
     * buys matmul kernels without horizontal sums that read each weight once per step whatever the batch. The
     * token embedding keeps being read from the file (one row per token).
     */
    private float[][] repack() {
        java.util.List<WeightMatrix> all = new java.util.ArrayList<>();
        for (WeightMatrix[] layerMatrices : new WeightMatrix[][] {wq, wk, wv, wo, w1, w2, w3})
            all.addAll(java.util.List.of(layerMatrices));
        all.add(output);
        int cols = 0;
        for (WeightMatrix w : all) {
            if (!PackedWeights.supports(w.type()) || packed.containsKey(w)) continue;
            PackedWeights p = PackedWeights.allocate(w, packedArena);
            pool.parallelFor(p.units, 8, (a, b, worker) -> p.packUnits(w, a, b));
            packed.put(w, p);
            cols = Math.max(cols, w.cols());
        }
        float[][] panels = new float[pool.size()][];
        for (int i = 0; i < panels.length; i++) {
            panels[i] = packed.isEmpty() ? new float[0] : new float[PackedWeights.panelFloats(cols)];
        }
        return panels;
    }

    // ------------------------------------------------------------------------------------------------
    // Loading

    /** Loads with one compute thread per available processor. */
    public static LlamaModel load(Path path, ThreadFactory threadFactory) throws IOException {
        return load(path, threadFactory, Runtime.getRuntime().availableProcessors());
    }

    /**
     * Loads a llama2.c checkpoint with an explicit llama2.c tokenizer file (for GGUF, whose tokenizer is
     * inside, {@code tokenizerPath} must be null).
     */
    public static LlamaModel load(Path path, Path tokenizerPath, ThreadFactory threadFactory, int threads)
            throws IOException {
        if (isGguf(path)) {
            if (tokenizerPath != null)
                throw new IllegalArgumentException(path + " is GGUF: its tokenizer is inside the file");
            return loadGguf(path, threadFactory, threads);
        }
        return loadLlama2c(path, tokenizerPath, threadFactory, threads);
    }

    /**
     * Loads a GGUF file or a llama2.c {@code .bin} checkpoint (told apart by the GGUF magic), failing with
     * {@link UnsupportedModelException} on an unknown architecture, weight type or inconsistent shape.
     *
     * @param threadFactory makes the {@code threads - 1} compute threads (the caller is the remaining one)
     */
    public static LlamaModel load(Path path, ThreadFactory threadFactory, int threads) throws IOException {
        return isGguf(path) ? loadGguf(path, threadFactory, threads) : loadLlama2c(path, null, threadFactory, threads);
    }

    private static boolean isGguf(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            java.nio.ByteBuffer magic = java.nio.ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(magic, 0);
            return magic.position() == 4 && magic.getInt(0) == 0x46554747;
        }
    }

    /** What a GGUF file holds for a Llama network, checked; the weights still point into the file's mapping. */
    private record GgufParts(
            ModelConfig config,
            WeightMatrix embedding,
            float[][] attnNorm,
            WeightMatrix[][] layers,
            float[][] ffnNorm,
            float[] outputNorm,
            WeightMatrix output,
            Tokenizer tokenizer) {}

    private static GgufParts parts(GgufFile f) {
        Path path = f.path();
        String arch = f.getString("general.architecture");
        if (!arch.equals("llama")) {
            throw new UnsupportedModelException(
                    path + ": architecture '" + arch + "' is not supported (supported: llama)");
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
        boolean tied = !f.tensors().containsKey("output.weight");
        long vocab = embd.shape()[1];
        if (vocab > Integer.MAX_VALUE)
            throw new UnsupportedModelException(path + ": vocabulary of " + vocab + " tokens");
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
                f.getFloat(p + "rope.freq_base", 10000f),
                f.getInt(p + "rope.dimension_count", dim / heads),
                tied);
        WeightMatrix[][] m = new WeightMatrix[7][layers];
        String[] names = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"};
        float[][] an = new float[layers][], fn = new float[layers][];
        for (int l = 0; l < layers; l++) {
            for (int k = 0; k < names.length; k++)
                m[k][l] = WeightMatrix.of(f.tensor("blk." + l + "." + names[k] + ".weight"));
            an[l] = vector(f.tensor("blk." + l + ".attn_norm.weight"), dim);
            fn[l] = vector(f.tensor("blk." + l + ".ffn_norm.weight"), dim);
        }
        WeightMatrix embedding = WeightMatrix.of(embd);
        WeightMatrix out = tied ? embedding : WeightMatrix.of(f.tensor("output.weight"));
        checkShapes(cfg, embedding, out, m[0], m[1], m[2], m[3], m[4], m[5], m[6]);
        float[] outputNorm = vector(f.tensor("output_norm.weight"), dim);
        Tokenizer tok = f.has("tokenizer.ggml.model") ? Tokenizer.fromGguf(f) : null;
        if (tok != null && tok.vocabSize() != cfg.vocabSize()) {
            throw new UnsupportedModelException(path + ": the tokenizer has " + tok.vocabSize()
                    + " tokens but the embedding " + cfg.vocabSize() + " rows");
        }
        return new GgufParts(cfg, embedding, an, m, fn, outputNorm, out, tok);
    }

    /**
     * Checks, without loading it, that an open GGUF file is a Llama network this engine can run: architecture,
     * hyper-parameters, every tensor's presence, type and shape, and the tokenizer. Cheap (no weights are read or
     * copied, no threads started): what model registration runs before accepting a file.
     *
     * @throws UnsupportedModelException naming the problem
     */
    public static ModelConfig inspect(GgufFile f) {
        return refusal(f.path(), () -> parts(f).config());
    }

    /**
     * Runs {@code check}; an unexpected exception or error from code reading a hostile file (an index out of range,
     * an absurd allocation, a deep recursion) becomes the file's refusal, so that callers see one kind of failure.
     */
    private static <T> T refusal(Path path, java.util.function.Supplier<T> check) {
        try {
            return check.get();
        } catch (UnsupportedModelException e) {
            throw e;
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
            throw new UnsupportedModelException(path + ": malformed model (" + e + ")", e);
        }
    }

    private static LlamaModel loadGguf(Path path, ThreadFactory tf, int threads) throws IOException {
        GgufFile f = GgufFile.open(path);
        ComputePool pool = null;
        try {
            GgufParts g = refusal(path, () -> parts(f));
            pool = new ComputePool(threads, tf);
            WeightMatrix[][] m = g.layers();
            ComputePool compute = pool;
            return refusal(
                    path,
                    () -> new LlamaModel(
                            g.config(),
                            path,
                            f,
                            compute,
                            g.tokenizer(),
                            path + " contains no tokenizer (tokenizer.ggml.model is missing)",
                            g.embedding(),
                            g.attnNorm(),
                            m[0],
                            m[1],
                            m[2],
                            m[3],
                            g.ffnNorm(),
                            m[4],
                            m[5],
                            m[6],
                            g.outputNorm(),
                            g.output()));
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
            if (s.byteSize() < 28)
                throw new UnsupportedModelException(path + " is neither GGUF nor a llama2.c checkpoint (too short)");
            ValueLayout.OfInt i32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            int dim = s.get(i32, 0), hidden = s.get(i32, 4), layers = s.get(i32, 8), heads = s.get(i32, 12);
            int kvHeads = s.get(i32, 16), vocabRaw = s.get(i32, 20), seqLen = s.get(i32, 24);
            int vocab = Math.abs(vocabRaw);
            boolean tied = vocabRaw > 0;
            if (dim <= 0
                    || dim > 1 << 16
                    || hidden <= 0
                    || hidden > 1 << 18
                    || layers <= 0
                    || layers > 1024
                    || heads <= 0
                    || kvHeads <= 0
                    || vocab <= 0
                    || vocab > 1 << 22
                    || seqLen <= 0
                    || seqLen > 1 << 22
                    || heads > dim) {
                throw new UnsupportedModelException(
                        path + " is neither GGUF nor a plausible llama2.c checkpoint (header " + dim + "," + hidden
                                + "," + layers + "," + heads + "," + kvHeads + "," + vocabRaw + "," + seqLen + ")");
            }
            ModelConfig cfg = new ModelConfig(
                    "llama", dim, hidden, layers, heads, kvHeads, vocab, seqLen, 1e-5f, 10000f, dim / heads, tied);
            int kvDim = cfg.kvDim();
            long[] off = {28};
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
                                cfg,
                                path,
                                arena::close,
                                pool,
                                tokenizer,
                                tokenizerProblem,
                                embedding,
                                an,
                                wq,
                                wk,
                                wv,
                                wo,
                                fn,
                                w1,
                                w2,
                                w3,
                                finalNorm,
                                out));
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

    private static void checkShapes(
            ModelConfig config,
            WeightMatrix tokenEmbedding,
            WeightMatrix output,
            WeightMatrix[] wq,
            WeightMatrix[] wk,
            WeightMatrix[] wv,
            WeightMatrix[] wo,
            WeightMatrix[] w1,
            WeightMatrix[] w2,
            WeightMatrix[] w3) {
        int d = config.dim(), kv = config.kvDim(), h = config.hiddenDim();
        expect(tokenEmbedding, config.vocabSize(), d);
        expect(output, config.vocabSize(), d);
        for (int l = 0; l < config.layers(); l++) {
            expect(wq[l], d, d);
            expect(wk[l], kv, d);
            expect(wv[l], kv, d);
            expect(wo[l], d, d);
            expect(w1[l], h, d);
            expect(w2[l], d, h);
            expect(w3[l], h, d);
        }
    }

    private static void expect(WeightMatrix w, int rows, int cols) {
        if (w.rows() != rows || w.cols() != cols) {
            throw new UnsupportedModelException(
                    "tensor " + w.name() + " is " + w.rows() + "x" + w.cols() + ", expected " + rows + "x" + cols);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Accessors

    public ModelConfig config() {
        return config;
    }

    /** The model's tokenizer (from the GGUF metadata, or the llama2.c tokenizer file). */
    public Tokenizer tokenizer() {
        if (tokenizer == null) throw new UnsupportedModelException(tokenizerProblem);
        return tokenizer;
    }

    public Path path() {
        return path;
    }

    /** Number of compute threads (including the caller of {@link #forward}). */
    public int threads() {
        return pool.size();
    }

    /**
     * Runs {@code body} over {@code [0, n)} on this model's compute threads (see {@link ComputePool#parallelFor}),
     * for per-sequence work around the forward pass (sampling). Like {@link #forward}, never concurrently with
     * another forward pass or loop of this model.
     */
    public void parallelFor(int n, int minChunk, ComputePool.RangeBody body) {
        pool.parallelFor(n, minChunk, body);
    }

    /** A KV cache for this model's shape with as many blocks as fit in {@code byteBudget}. */
    public KvCachePool newKvCachePool(long byteBudget) {
        return new KvCachePool(config, byteBudget);
    }

    /** Encoding of the largest matrices (what a user would call the model's quantization), e.g. "Q8_0". */
    public GgmlType weightType() {
        return w1[0].type();
    }

    // ------------------------------------------------------------------------------------------------
    // Forward pass

    /**
     * Runs every token of {@code batch} through the model, appends their keys/values to the sequences' caches
     * (advancing each {@link KvCachePool.Sequence#length()}) and returns the requested logits.
     *
     * @throws IllegalArgumentException if an entry starts beyond its sequence, lacks reserved blocks, uses a
     *                                  token id outside the vocabulary or was freed
     */
    public ForwardResult forward(Batch batch) {
        final ModelConfig c = config;
        final int dim = c.dim(), kvDim = c.kvDim(), hidden = c.hiddenDim(), hs = c.headSize();
        List<Batch.Entry> entries = batch.entries();
        final int T = batch.tokenCount();
        if (T == 0) return new ForwardResult(batch, new float[0][][]);

        // Flatten the batch: token t belongs to sequence seqOf[t] at position pos[t].
        final int[] tokens = new int[T], pos = new int[T];
        final KvCachePool.Sequence[] seqOf = new KvCachePool.Sequence[T];
        int t0 = 0;
        for (Batch.Entry e : entries) {
            KvCachePool.Sequence s = e.sequence();
            if (s.pool().config() != c && !s.pool().config().equals(c))
                throw new IllegalArgumentException("KV cache was built for another model shape");
            if (s.freedUnsafe()) throw new IllegalArgumentException("sequence was freed");
            if (e.startPosition() > s.lengthUnsafe()) {
                throw new IllegalArgumentException("entry starts at position " + e.startPosition()
                        + " but its sequence holds " + s.lengthUnsafe());
            }
            int end = e.startPosition() + e.tokens().length;
            if (end > s.capacityUnsafe()) {
                throw new IllegalArgumentException("sequence has room for " + s.capacityUnsafe()
                        + " positions, entry needs " + end + ": reserve first");
            }
            for (int i = 0; i < e.tokens().length; i++) {
                int tok = e.tokens()[i];
                if (tok < 0 || tok >= c.vocabSize())
                    throw new IllegalArgumentException("token id " + tok + " outside vocabulary of " + c.vocabSize());
                tokens[t0] = tok;
                pos[t0] = e.startPosition() + i;
                seqOf[t0] = s;
                t0++;
            }
        }

        float[] x = new float[T * dim], xb = new float[T * dim], xb2 = new float[T * dim];
        float[] q = new float[T * dim], k = new float[T * kvDim], v = new float[T * kvDim];
        float[] hb = new float[T * hidden], hb2 = new float[T * hidden];
        pool.parallelFor(T, 1, (a, b, w) -> {
            for (int t = a; t < b; t++) tokenEmbedding.dequantizeRow(tokens[t], x, t * dim);
        });
        // RoPE rotations depend only on the position: computed once per token, used by every layer.
        final int pairs = c.ropeDim() / 2;
        final float[] ropeCos = new float[T * pairs], ropeSin = new float[T * pairs];
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < pairs; i++) {
                double angle = pos[t] * StrictMath.pow(c.ropeTheta(), -(double) (2 * i) / c.ropeDim());
                ropeCos[t * pairs + i] = (float) StrictMath.cos(angle);
                ropeSin[t * pairs + i] = (float) StrictMath.sin(angle);
            }
        }

        for (int l = 0; l < c.layers(); l++) {
            final int layer = l;
            rmsNorm(xb, x, attnNorm[l], T, dim);
            matmul(xb, T, new WeightMatrix[] {wq[l], wk[l], wv[l]}, new float[][] {q, k, v});
            pool.parallelFor(T, 1, (a, b, w) -> {
                for (int t = a; t < b; t++) {
                    rope(q, t * dim, c.heads(), ropeCos, ropeSin, t * pairs);
                    rope(k, t * kvDim, c.kvHeads(), ropeCos, ropeSin, t * pairs);
                    KvCachePool kvPool = seqOf[t].pool();
                    int slot = pos[t] % KvCachePool.BLOCK_TOKENS;
                    float[] block = kvPool.block(seqOf[t].blockId(pos[t]));
                    int ko = kvPool.offset(layer, 0, slot), vo = kvPool.offset(layer, 1, slot);
                    for (int i = 0; i < kvDim; i++) {
                        block[ko + i] = f16Round(k[t * kvDim + i]);
                        block[vo + i] = f16Round(v[t * kvDim + i]);
                    }
                }
            });
            pool.parallelFor(T * c.heads(), 1, (a, b, w) -> {
                for (int i = a; i < b; i++)
                    attend(layer, i / c.heads(), i % c.heads(), q, xb2, seqOf, pos, workerScratch[w]);
            });
            matmul(xb2, T, new WeightMatrix[] {wo[l]}, new float[][] {xb});
            add(x, xb, T * dim);
            rmsNorm(xb, x, ffnNorm[l], T, dim);
            gateUp(xb, T, w1[l], w3[l], hb, hb2);
            matmul(hb, T, new WeightMatrix[] {w2[l]}, new float[][] {xb});
            add(x, xb, T * dim);
        }

        for (Batch.Entry e : entries) e.sequence().setLength(e.startPosition() + e.tokens().length);

        // Classifier only for the rows whose logits are wanted.
        int rowsOut = 0;
        for (Batch.Entry e : entries) rowsOut += e.allLogits() ? e.tokens().length : 1;
        float[] sel = new float[rowsOut * dim];
        int r = 0;
        t0 = 0;
        for (Batch.Entry e : entries) {
            int n = e.tokens().length;
            for (int i = e.allLogits() ? 0 : n - 1; i < n; i++)
                System.arraycopy(x, (t0 + i) * dim, sel, (r++) * dim, dim);
            t0 += n;
        }
        float[] normed = new float[rowsOut * dim];
        rmsNorm(normed, sel, outputNorm, rowsOut, dim);
        float[] logits = new float[rowsOut * c.vocabSize()];
        matmul(normed, rowsOut, new WeightMatrix[] {output}, new float[][] {logits});

        float[][][] result = new float[entries.size()][][];
        r = 0;
        for (int ei = 0; ei < entries.size(); ei++) {
            Batch.Entry e = entries.get(ei);
            int n = e.allLogits() ? e.tokens().length : 1;
            result[ei] = new float[n][];
            for (int i = 0; i < n; i++, r++) {
                // A single row (one-token decode) hands over the array itself: no vocabulary-sized copy per step.
                result[ei][i] = rowsOut == 1
                        ? logits
                        : java.util.Arrays.copyOfRange(logits, r * c.vocabSize(), (r + 1) * c.vocabSize());
            }
        }
        return new ForwardResult(batch, result);
    }

    /**
     * {@code hb = SwiGLU(gate x, up x)} for the T rows of {@code x}, with {@code hb2} receiving the up projection:
     * both projections in one matmul, then SwiGLU split by elements (a single decode token uses both threads too).
     * Applying SwiGLU per unit inside the matmul measured slower: each work item then streams two matrices.
     */
    private void gateUp(float[] x, int T, WeightMatrix gate, WeightMatrix up, float[] hb, float[] hb2) {
        matmul(x, T, new WeightMatrix[] {gate, up}, new float[][] {hb, hb2});
        final int n = T * gate.rows(), piece = 256;
        pool.parallelFor((n + piece - 1) / piece, 1, (a, b, w) -> {
            for (int i = a * piece, end = Math.min(n, b * piece); i < end; i++) hb[i] = swiglu(hb[i], hb2[i]);
        });
    }

    /** SwiGLU of one element: SiLU(gate) * up. */
    private static float swiglu(float gate, float up) {
        return gate / (1f + ExpF.exp(-gate)) * up;
    }

    /** out[t] = x[t] / rms(x[t]) * weight, for each of the T rows. */
    private void rmsNorm(float[] out, float[] x, float[] weight, int T, int n) {
        float eps = config.rmsEps();
        for (int t = 0; t < T; t++) {
            int o = t * n;
            // In double, as ggml does: the result feeds int8 activation rounding, which amplifies tiny differences.
            // Four interleaved partial sums (fixed order) so the adds do not wait on one another.
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            int i4 = n & ~3;
            for (int i = 0; i < i4; i += 4) {
                s0 += x[o + i] * x[o + i];
                s1 += x[o + i + 1] * x[o + i + 1];
                s2 += x[o + i + 2] * x[o + i + 2];
                s3 += x[o + i + 3] * x[o + i + 3];
            }
            for (int i = i4; i < n; i++) s0 += x[o + i] * x[o + i];
            double ss = (s0 + s1) + (s2 + s3);
            float scale = 1f / (float) StrictMath.sqrt((float) (ss / n) + eps);
            for (int i = 0; i < n; i++) out[o + i] = x[o + i] * scale * weight[i];
        }
    }

    // Transcendentals use StrictMath or ExpF (plain IEEE arithmetic): Math.* may be intrinsified differently in
    // the interpreter and in compiled code, and the engine promises bit-identical results for identical inputs.
    static float f16Round(float f) {
        return Float.float16ToFloat(Float.floatToFloat16(f));
    }

    private static void add(float[] x, float[] y, int n) {
        QuantKernels.axpy(1f, y, 0, x, 0, n);
    }

    /** Rotates interleaved pairs (2i, 2i+1) of the first ropeDim dims of each head by pos * theta^(-2i/ropeDim) (precomputed cos/sin). */
    private void rope(float[] vec, int off, int nHeads, float[] cos, float[] sin, int trig) {
        int hs = config.headSize(), rd = config.ropeDim();
        for (int i = 0; i < rd; i += 2) {
            float co = cos[trig + i / 2], si = sin[trig + i / 2];
            for (int h = 0; h < nHeads; h++) {
                int j = off + h * hs + i;
                float v0 = vec[j], v1 = vec[j + 1];
                vec[j] = v0 * co - v1 * si;
                vec[j + 1] = v0 * si + v1 * co;
            }
        }
    }

    /** Causal attention of token t, head h over positions [0, pos[t]] of its own sequence; writes out[t][h]. */
    private void attend(
            int layer, int t, int h, float[] q, float[] out, KvCachePool.Sequence[] seqOf, int[] pos, float[] att) {
        int hs = config.headSize(), dim = config.dim();
        int kvOff = (h / (config.heads() / config.kvHeads())) * hs;
        int qOff = t * dim + h * hs;
        KvCachePool.Sequence s = seqOf[t];
        KvCachePool kv = s.pool();
        int last = pos[t];
        float scale = (float) (1.0 / StrictMath.sqrt(hs));
        for (int i = 0; i < hs; i++) q[qOff + i] = f16Round(q[qOff + i]);
        float max = Float.NEGATIVE_INFINITY;
        int kvDim = config.kvDim(), kBase = kv.offset(layer, 0, 0) + kvOff, vBase = kv.offset(layer, 1, 0) + kvOff;
        // Walk the cache block by block (one table lookup per 16 positions); a slot is kvDim floats further on.
        for (int p0 = 0; p0 <= last; p0 += KvCachePool.BLOCK_TOKENS) {
            float[] block = kv.block(s.blockId(p0));
            int end = Math.min(last, p0 + KvCachePool.BLOCK_TOKENS - 1);
            for (int p = p0, ko = kBase; p <= end; p++, ko += kvDim) {
                float score = QuantKernels.dot(q, qOff, block, ko, hs) * scale;
                att[p] = score;
                if (score > max) max = score;
            }
        }
        float sum = 0;
        for (int p = 0; p <= last; p++) {
            float e = ExpF.exp(att[p] - max);
            att[p] = e;
            sum += e;
        }
        int o = t * dim + h * hs;
        float inv = 1f / sum;
        if (hs == 8 * QuantKernels.L) {
            // The common head size (64 on AVX2): the output row stays in 8 registers across all positions instead
            // of a load-FMA-store round trip through memory per position. Same FMAs in the same order as axpy.
            FloatVector o0 = FloatVector.zero(QuantKernels.F),
                    o1 = o0,
                    o2 = o0,
                    o3 = o0,
                    o4 = o0,
                    o5 = o0,
                    o6 = o0,
                    o7 = o0;
            final int l = QuantKernels.L;
            for (int p0 = 0; p0 <= last; p0 += KvCachePool.BLOCK_TOKENS) {
                float[] block = kv.block(s.blockId(p0));
                int end = Math.min(last, p0 + KvCachePool.BLOCK_TOKENS - 1);
                for (int p = p0, vo = vBase; p <= end; p++, vo += kvDim) {
                    FloatVector a = FloatVector.broadcast(QuantKernels.F, f16Round(att[p] * inv));
                    o0 = FloatVector.fromArray(QuantKernels.F, block, vo).fma(a, o0);
                    o1 = FloatVector.fromArray(QuantKernels.F, block, vo + l).fma(a, o1);
                    o2 = FloatVector.fromArray(QuantKernels.F, block, vo + 2 * l)
                            .fma(a, o2);
                    o3 = FloatVector.fromArray(QuantKernels.F, block, vo + 3 * l)
                            .fma(a, o3);
                    o4 = FloatVector.fromArray(QuantKernels.F, block, vo + 4 * l)
                            .fma(a, o4);
                    o5 = FloatVector.fromArray(QuantKernels.F, block, vo + 5 * l)
                            .fma(a, o5);
                    o6 = FloatVector.fromArray(QuantKernels.F, block, vo + 6 * l)
                            .fma(a, o6);
                    o7 = FloatVector.fromArray(QuantKernels.F, block, vo + 7 * l)
                            .fma(a, o7);
                }
            }
            o0.intoArray(out, o);
            o1.intoArray(out, o + l);
            o2.intoArray(out, o + 2 * l);
            o3.intoArray(out, o + 3 * l);
            o4.intoArray(out, o + 4 * l);
            o5.intoArray(out, o + 5 * l);
            o6.intoArray(out, o + 6 * l);
            o7.intoArray(out, o + 7 * l);
            return;
        }
        if (hs == 4 * QuantKernels.L) {
            // Head size 64 with 512-bit vectors: the same register-resident accumulation in four vectors.
            FloatVector o0 = FloatVector.zero(QuantKernels.F), o1 = o0, o2 = o0, o3 = o0;
            final int l = QuantKernels.L;
            for (int p0 = 0; p0 <= last; p0 += KvCachePool.BLOCK_TOKENS) {
                float[] block = kv.block(s.blockId(p0));
                int end = Math.min(last, p0 + KvCachePool.BLOCK_TOKENS - 1);
                for (int p = p0, vo = vBase; p <= end; p++, vo += kvDim) {
                    FloatVector a = FloatVector.broadcast(QuantKernels.F, f16Round(att[p] * inv));
                    o0 = FloatVector.fromArray(QuantKernels.F, block, vo).fma(a, o0);
                    o1 = FloatVector.fromArray(QuantKernels.F, block, vo + l).fma(a, o1);
                    o2 = FloatVector.fromArray(QuantKernels.F, block, vo + 2 * l)
                            .fma(a, o2);
                    o3 = FloatVector.fromArray(QuantKernels.F, block, vo + 3 * l)
                            .fma(a, o3);
                }
            }
            o0.intoArray(out, o);
            o1.intoArray(out, o + l);
            o2.intoArray(out, o + 2 * l);
            o3.intoArray(out, o + 3 * l);
            return;
        }
        java.util.Arrays.fill(out, o, o + hs, 0f);
        for (int p0 = 0; p0 <= last; p0 += KvCachePool.BLOCK_TOKENS) {
            float[] block = kv.block(s.blockId(p0));
            int end = Math.min(last, p0 + KvCachePool.BLOCK_TOKENS - 1);
            for (int p = p0, vo = vBase; p <= end; p++, vo += kvDim) {
                QuantKernels.axpy(f16Round(att[p] * inv), block, vo, out, o, hs);
            }
        }
    }

    /**
     * outs[m][t][r] = dot(ws[m] row r, x[t]) for every matrix m (all sharing the input width), token t < T
     * and row r. The rows of all matrices form one parallel loop, so small matrices (K, V) share a single
     * dispatch with Q. Each weight row is read from memory once per call: for few tokens the fused kernel
     * dots it with each token while it sits in L1; for more tokens four rows at a time are dequantized into
     * per-thread scratch and dotted with every token with plain float FMAs.
     */
    void matmul(float[] input, int T, WeightMatrix[] ws, float[][] outs) {
        int cols = ws[0].cols();
        // Round the activations the way llama.cpp does for these weight types (see QuantKernels.roundActivations).
        QuantKernels.ActivationFormat format = QuantKernels.activationFormat(ws[0].type());
        for (WeightMatrix w : ws) {
            if (QuantKernels.activationFormat(w.type()) != format) {
                // Mixed-format groups (e.g. Q4_K with an F16 matrix) are split into one call per matrix.
                for (int m = 0; m < ws.length; m++)
                    matmul(input, T, new WeightMatrix[] {ws[m]}, new float[][] {outs[m]});
                return;
            }
        }
        if (packed.containsKey(ws[0])) {
            boolean all = true;
            for (WeightMatrix w : ws) all &= packed.containsKey(w);
            if (all) {
                packedMatmul(input, T, ws, outs);
                return;
            }
            for (int m = 0; m < ws.length; m++) matmul(input, T, new WeightMatrix[] {ws[m]}, new float[][] {outs[m]});
            return;
        }
        float[] x = new float[T * cols];
        QuantKernels.roundActivations(format, input, x, T * cols);
        int[] starts = new int[ws.length + 1];
        for (int m = 0; m < ws.length; m++) {
            if (ws[m].cols() != cols)
                throw new IllegalArgumentException("matrices of one matmul must share the input width");
            starts[m + 1] = starts[m] + ws[m].rows();
        }
        boolean dequant = T >= dequantMinTokens(ws[0].type());
        int groups =
                (starts[ws.length] + 3) / 4; // unit of work: 4 rows of one matrix (a group may straddle: handled below)
        pool.parallelFor(groups, dequant ? 4 : 16, (a, b, worker) -> {
            float[] scratch = workerScratch[worker];
            for (int g = a; g < b; g++) {
                int row0 = g * 4, rowEnd = Math.min(row0 + 4, starts[ws.length]);
                int m = 0;
                while (starts[m + 1] <= row0) m++;
                WeightMatrix w = ws[m];
                float[] out = outs[m];
                int rows = w.rows();
                int r0 = row0 - starts[m];
                if (dequant && rowEnd <= starts[m + 1] && rowEnd - row0 == 4) {
                    for (int i = 0; i < 4; i++) w.dequantizeRow(r0 + i, scratch, i * cols);
                    int t = 0;
                    for (; t + 1 < T; t += 2) { // 4 rows x 2 tokens register tile
                        QuantKernels.dot4x2(
                                scratch,
                                0,
                                cols,
                                x,
                                t * cols,
                                (t + 1) * cols,
                                cols,
                                out,
                                t * rows + r0,
                                (t + 1) * rows + r0);
                    }
                    for (; t < T; t++) QuantKernels.dot4(scratch, 0, cols, x, t * cols, cols, out, t * rows + r0);
                } else {
                    for (int row = row0; row < rowEnd; row++) {
                        while (starts[m + 1] <= row) m++;
                        WeightMatrix wm = ws[m];
                        int r = row - starts[m];
                        for (int t = 0; t < T; t++) outs[m][t * wm.rows() + r] = wm.dot(r, x, t * cols);
                    }
                }
            }
        });
    }

    /**
     * From this many tokens on, the packed matmul widens each unit of rows to floats once and runs the 8-token
     * register tile; below it, groups of up to four tokens stream the int8 unit through
     * {@link PackedWeights#gemv4} (a single token through {@link PackedWeights#gemv}). All give bit-identical
     * results, so the switch is purely a speed choice.
     */
    static final int PACKED_TILE_MIN_TOKENS = 8;

    /**
     * {@link #matmul} on repacked weights: the activations are quantized once per token to int8 blocks (ggml's
     * quantize_row_q8_0: the values llama.cpp multiplies), each unit of 16 rows is one work item: streamed as
     * int8 by the few-token kernels, or widened once and run through the 8-token register tile from
     * {@link #PACKED_TILE_MIN_TOKENS} tokens on.
     */
    private void packedMatmul(float[] input, int T, WeightMatrix[] ws, float[][] outs) {
        int cols = ws[0].cols();
        PackedInput in = new PackedInput(input, T, cols);
        PackedWeights[] ps = new PackedWeights[ws.length];
        int[] starts = new int[ws.length + 1];
        for (int m = 0; m < ws.length; m++) {
            if (ws[m].cols() != cols)
                throw new IllegalArgumentException("matrices of one matmul must share the input width");
            ps[m] = packed.get(ws[m]);
            starts[m + 1] = starts[m] + ps[m].units;
        }
        // One work item per unit; the pool's guided chunks give each thread long contiguous runs of units first
        // (streaming reads) and short ones at the end (balance).
        int units = starts[ws.length];
        if (!in.tile) {
            pool.parallelFor(units, 1, (a, b, worker) -> {
                int m = 0;
                for (int g = a; g < b; g++) {
                    while (starts[m + 1] <= g) m++;
                    in.multiplyFew(ps[m], g - starts[m], outs[m]);
                }
            });
            return;
        }
        pool.parallelFor(in.tiles, 1, (a, b, worker) -> {
            for (int i = a; i < b; i++) in.interleaveTile(i);
        });
        pool.parallelFor(units, 1, (a, b, worker) -> {
            float[] panel = workerPanel[worker];
            float[] acc = new float[PackedWeights.UNIT_ROWS * PackedWeights.TILE_TOKENS];
            int m = 0;
            for (int g = a; g < b; g++) {
                while (starts[m + 1] <= g) m++;
                in.multiplyTiles(ps[m], g - starts[m], outs[m], panel, acc);
            }
        });
    }

    /** The activations of one packed matmul: int8 blocks per token and, for the tile path, token panels. */
    private static final class PackedInput {
        final int T, cols, blocks, tiles, tileFloats;
        final boolean tile;
        final float[] qx, dx, xt;

        PackedInput(float[] input, int T, int cols) {
            this.T = T;
            this.cols = cols;
            this.blocks = cols / 32;
            this.qx = new float[T * cols];
            this.dx = new float[T * blocks];
            for (int t = 0; t < T; t++) QuantKernels.quantizeQ8_0(input, t * cols, qx, t * cols, dx, t * blocks, cols);
            this.tile = T >= PACKED_TILE_MIN_TOKENS;
            this.tiles = (T + PackedWeights.TILE_TOKENS - 1) / PackedWeights.TILE_TOKENS;
            this.tileFloats = PackedWeights.tokenPanelFloats(cols);
            this.xt = tile ? new float[tiles * tileFloats] : null;
        }

        void interleaveTile(int i) {
            int first = i * PackedWeights.TILE_TOKENS;
            PackedWeights.interleave(
                    qx, dx, cols, first, Math.min(PackedWeights.TILE_TOKENS, T - first), xt, i * tileFloats);
        }

        /** Unit {@code u} of {@code p} times every token ({@code T < PACKED_TILE_MIN_TOKENS}): {@code out[t * rows + r]} for its real rows r. */
        void multiplyFew(PackedWeights p, int u, float[] out) {
            int rows = p.rows, r0 = u * PackedWeights.UNIT_ROWS;
            int t = 0;
            for (; t + 1 < T; t += 4) { // groups of up to 4 tokens; a short group repeats its last token
                int t1 = Math.min(t + 1, T - 1), t2 = Math.min(t + 2, T - 1), t3 = Math.min(t + 3, T - 1);
                p.gemv4(
                        u,
                        qx,
                        t * cols,
                        t1 * cols,
                        t2 * cols,
                        t3 * cols,
                        dx,
                        t * blocks,
                        t1 * blocks,
                        t2 * blocks,
                        t3 * blocks,
                        out,
                        t * rows + r0,
                        t1 * rows + r0,
                        t2 * rows + r0,
                        t3 * rows + r0);
            }
            if (t < T) p.gemv(u, qx, t * cols, dx, t * blocks, out, t * rows + r0);
        }

        /** The same through the widened unit and the 8-token register tile (the token panels must be interleaved). */
        void multiplyTiles(PackedWeights p, int u, float[] out, float[] panel, float[] acc) {
            int rows = p.rows, r0 = u * PackedWeights.UNIT_ROWS;
            p.widen(u, panel);
            int valid = Math.min(PackedWeights.UNIT_ROWS, rows - r0);
            for (int i = 0; i < tiles; i++) {
                PackedWeights.gemm(panel, cols, xt, i * tileFloats, acc);
                int t0 = i * PackedWeights.TILE_TOKENS, n = Math.min(PackedWeights.TILE_TOKENS, T - t0);
                for (int k = 0; k < n; k++)
                    System.arraycopy(acc, PackedWeights.UNIT_ROWS * k, out, (t0 + k) * rows + r0, valid);
            }
        }
    }

    /** Unmaps the weights and stops the compute threads. */
    @Override
    public void close() {
        pool.close();
        packedArena.close();
        try {
            mapping.close();
        } catch (Exception e) {
            throw new IllegalStateException("could not unmap " + path, e);
        }
    }
}
