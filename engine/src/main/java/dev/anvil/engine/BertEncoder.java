package dev.anvil.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadFactory;

/**
 * A BERT encoder (GGUF {@code general.architecture = bert}: BGE, MiniLM, ...) that turns texts into one embedding
 * each, over weights that stay in the memory-mapped file and the same matmul kernels as the decoders
 * ({@link Matmul}). What differs from {@link LlamaModel} is the whole block, so it is a network of its own rather
 * than traits of the decoder: bidirectional attention within each input, learned absolute positions, LayerNorm with
 * bias after each sub-block (post-norm), a GELU feed-forward without gate, biases everywhere, no KV cache.
 *
 * <pre>
 * x = LayerNorm(E_tok[id] + E_type[0] + E_pos[p])                       (token type 0: "sentence A")
 * per block:
 *   q,k,v = Wq x + bq, Wk x + bk, Wv x + bv
 *   a = Wo · softmax(q·Kᵀ/√d) V + bo                                    (every token of its own input, no mask)
 *   x = LayerNorm(x + a)
 *   x = LayerNorm(x + W2 GELU(W1 x + b1) + b2)
 * embedding = pool(x over the input's tokens)                           (bert.pooling_type: mean, CLS, last)
 * </pre>
 *
 * <p>{@link #embed} runs every input of a call in one forward pass: each weight row is applied to all tokens of
 * all inputs while it is in cache, attention stays within each input. Numerics follow llama.cpp's CPU backend
 * (the reference the tests compare with): activations rounded to the weight type's dot-product format (fp16 for
 * F16, int8 blocks for quantized weights), q, k and v rounded to fp16 as its flash attention casts them, GELU
 * through its fp16 table, LayerNorm sums in double. Results do not depend on what else is in the batch.
 *
 * <p>Not thread-safe: one {@link #embed} at a time (the caller serializes, e.g. {@code EmbeddingQueue}); each call
 * is itself parallel on the {@link ComputePool}.
 */
public final class BertEncoder implements AutoCloseable {

    /** The encoder families (GGUF {@code general.architecture}) this class runs. */
    public static final List<String> ARCHITECTURES = List.of("bert");

    /** How token vectors become one embedding: llama.cpp's {@code llama_pooling_type}, numbered as there. */
    public enum Pooling {
        /** No pooling: one vector per token (not an OpenAI embedding; refused by {@link #embed}). */
        NONE,
        /** The average over every token of the input, [CLS] and [SEP] included. */
        MEAN,
        /** The first token's vector ([CLS]). */
        CLS,
        /** The last token's vector. */
        LAST,
        /** A reranker's classification head (not supported; refused at load). */
        RANK;

        /** The pooling for llama.cpp's enum value {@code value} ({@code <arch>.pooling_type}). */
        static Pooling of(int value) {
            if (value < 0 || value >= values().length)
                throw new UnsupportedModelException("pooling type " + value + " is not one of llama.cpp's (0..4)");
            return values()[value];
        }

        /** Whether one embedding per input comes out. */
        public boolean pools() {
            return this == MEAN || this == CLS || this == LAST;
        }
    }

    /**
     * The shape of an encoder, read from the metadata and checked against the tensors.
     *
     * @param contextLength the most tokens of one input, [CLS] and [SEP] included ({@code bert.context_length}: the
     *                      rows of the position embedding)
     * @param normEps       LayerNorm epsilon ({@code bert.attention.layer_norm_epsilon})
     */
    public record Config(
            String architecture,
            int dim,
            int hiddenDim,
            int layers,
            int heads,
            int vocabSize,
            int contextLength,
            float normEps,
            Pooling pooling) {

        public int headSize() {
            return dim / heads;
        }
    }

    /** One block's tensors, GGUF names in the comments. */
    private record Layer(
            WeightMatrix wq, // attn_q
            WeightMatrix wk, // attn_k
            WeightMatrix wv, // attn_v
            float[] bq,
            float[] bk,
            float[] bv,
            WeightMatrix wo, // attn_output
            float[] bo,
            float[] attnNormW, // attn_output_norm
            float[] attnNormB,
            WeightMatrix up, // ffn_up
            float[] upBias,
            WeightMatrix down, // ffn_down
            float[] downBias,
            float[] outNormW, // layer_output_norm
            float[] outNormB) {}

    private final Config config;
    private final Path path;
    private final AutoCloseable mapping;
    private final ComputePool pool;
    private final Matmul matmul;
    private final Tokenizer tokenizer;
    private final WeightMatrix tokenEmbedding, positionEmbedding;
    private final float[] typeRow0, embNormW, embNormB;
    private final List<Layer> layers;
    private final float[][] workerScores;

    private BertEncoder(Parts p, Path path, AutoCloseable mapping, ComputePool pool) {
        this.config = p.config;
        this.path = path;
        this.mapping = mapping;
        this.pool = pool;
        this.tokenizer = p.tokenizer;
        this.tokenEmbedding = p.tokenEmbedding;
        this.positionEmbedding = p.positionEmbedding;
        this.typeRow0 = p.typeRow0;
        this.embNormW = p.embNormW;
        this.embNormB = p.embNormB;
        this.layers = p.layers;
        this.workerScores = new float[pool.size()][config.contextLength()];
        List<WeightMatrix> matrices = new ArrayList<>();
        for (Layer l : layers) matrices.addAll(List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.up(), l.down()));
        this.matmul = new Matmul(matrices, Math.max(config.dim(), config.hiddenDim()), pool);
    }

    // ------------------------------------------------------------------------------------------------
    // Loading

    /** Whether a GGUF file holds an encoder this class runs (rather than a decoder for {@link LlamaModel}). */
    public static boolean isEncoder(GgufFile f) {
        return ARCHITECTURES.contains(f.getString("general.architecture", ""));
    }

    /**
     * Loads a BERT GGUF file, failing with {@link UnsupportedModelException} on another architecture, an unsupported
     * weight type, pooling or tokenizer, or an inconsistent shape.
     *
     * @param threadFactory makes the {@code threads - 1} compute threads (the caller is the remaining one)
     */
    public static BertEncoder load(Path path, ThreadFactory threadFactory, int threads) throws IOException {
        GgufFile f = GgufFile.open(path);
        ComputePool pool = null;
        try {
            Parts parts = ModelLoader.refusal(path, () -> parts(f));
            pool = new ComputePool(threads, threadFactory);
            ComputePool compute = pool;
            return ModelLoader.refusal(path, () -> new BertEncoder(parts, path, f, compute));
        } catch (RuntimeException | Error e) {
            if (pool != null) pool.close();
            f.close();
            throw e;
        }
    }

    /**
     * Checks, without loading, that an open GGUF file is an encoder this class can run (metadata, every tensor's
     * presence, type and shape, the tokenizer): what model registration runs before accepting a file.
     */
    public static Config inspect(GgufFile f) {
        return ModelLoader.refusal(f.path(), () -> parts(f).config);
    }

    private record Parts(
            Config config,
            Tokenizer tokenizer,
            WeightMatrix tokenEmbedding,
            WeightMatrix positionEmbedding,
            float[] typeRow0,
            float[] embNormW,
            float[] embNormB,
            List<Layer> layers) {}

    private static Parts parts(GgufFile f) {
        Path path = f.path();
        String arch = f.getString("general.architecture");
        if (!ARCHITECTURES.contains(arch)) {
            throw new UnsupportedModelException(path + ": architecture '" + arch + "' is not an encoder (supported: "
                    + String.join(", ", ARCHITECTURES) + ")");
        }
        String p = arch + ".";
        int dim = f.getInt(p + "embedding_length");
        int hidden = f.getInt(p + "feed_forward_length");
        int layers = f.getInt(p + "block_count");
        int heads = f.getInt(p + "attention.head_count");
        int context = f.getInt(p + "context_length");
        float eps = f.getFloat(p + "attention.layer_norm_epsilon", 1e-12f);
        if (layers <= 0 || layers > ModelLoader.MAX_LAYERS)
            throw new UnsupportedModelException(
                    path + ": " + p + "block_count " + layers + " is outside 1.." + ModelLoader.MAX_LAYERS);
        if (dim <= 0 || hidden <= 0 || heads <= 0 || dim % heads != 0)
            throw new UnsupportedModelException(path + ": embedding width " + dim + ", feed-forward " + hidden + " and "
                    + heads + " heads do not make a BERT shape");
        if (f.getInt(p + "attention.head_count_kv", heads) != heads)
            throw new UnsupportedModelException(path + ": grouped-query attention is not BERT's");
        if (context <= 0 || context > ModelConfig.MAX_CONTEXT_LENGTH)
            throw new UnsupportedModelException(path + ": " + p + "context_length " + context + " is implausible");
        if (!Float.isFinite(eps) || eps < 0)
            throw new UnsupportedModelException(path + ": LayerNorm epsilon " + eps + " is not finite and >= 0");
        if (f.getBoolean(p + "attention.causal", false))
            throw new UnsupportedModelException(path + ": a causal BERT is not supported (BERT attends both ways)");
        // llama.cpp's default when the key is absent is NONE (one vector per token).
        Pooling pooling = Pooling.of(f.getInt(p + "pooling_type", 0));
        if (pooling == Pooling.RANK)
            throw new UnsupportedModelException(path + ": rank pooling (a reranker's head) is not supported");

        WeightMatrix tok = WeightMatrix.of(f.tensor("token_embd.weight"));
        if (tok.cols() != dim)
            throw new UnsupportedModelException("tensor token_embd.weight is " + tok.cols() + " wide, expected " + dim);
        WeightMatrix pos = WeightMatrix.of(f.tensor("position_embd.weight"));
        expect(pos, context, dim);
        float[] type0 = null;
        if (f.tensors().containsKey("token_types.weight")) {
            WeightMatrix types = WeightMatrix.of(f.tensor("token_types.weight"));
            if (types.cols() != dim)
                throw new UnsupportedModelException("tensor token_types.weight is " + types.cols() + " wide");
            type0 = new float[dim];
            types.dequantizeRow(0, type0, 0);
        }
        Config cfg = new Config(arch, dim, hidden, layers, heads, tok.rows(), context, eps, pooling);
        List<Layer> blocks = new ArrayList<>(layers);
        for (int l = 0; l < layers; l++) {
            String b = "blk." + l + ".";
            WeightMatrix q, k, v;
            if (f.tensors().containsKey(b + "attn_qkv.weight")) {
                WeightMatrix qkv = WeightMatrix.of(f.tensor(b + "attn_qkv.weight"));
                expect(qkv, 3 * dim, dim);
                q = qkv.rowRange(b + "attn_qkv.weight[q]", 0, dim);
                k = qkv.rowRange(b + "attn_qkv.weight[k]", dim, dim);
                v = qkv.rowRange(b + "attn_qkv.weight[v]", 2 * dim, dim);
            } else {
                q = expect(WeightMatrix.of(f.tensor(b + "attn_q.weight")), dim, dim);
                k = expect(WeightMatrix.of(f.tensor(b + "attn_k.weight")), dim, dim);
                v = expect(WeightMatrix.of(f.tensor(b + "attn_v.weight")), dim, dim);
            }
            float[] bq, bk, bv;
            if (f.tensors().containsKey(b + "attn_qkv.bias")) {
                float[] all = vector(f, b + "attn_qkv.bias", 3 * dim);
                bq = java.util.Arrays.copyOfRange(all, 0, dim);
                bk = java.util.Arrays.copyOfRange(all, dim, 2 * dim);
                bv = java.util.Arrays.copyOfRange(all, 2 * dim, 3 * dim);
            } else {
                bq = optional(f, b + "attn_q.bias", dim);
                bk = optional(f, b + "attn_k.bias", dim);
                bv = optional(f, b + "attn_v.bias", dim);
            }
            blocks.add(new Layer(
                    q,
                    k,
                    v,
                    bq,
                    bk,
                    bv,
                    expect(WeightMatrix.of(f.tensor(b + "attn_output.weight")), dim, dim),
                    optional(f, b + "attn_output.bias", dim),
                    vector(f, b + "attn_output_norm.weight", dim),
                    vector(f, b + "attn_output_norm.bias", dim),
                    expect(WeightMatrix.of(f.tensor(b + "ffn_up.weight")), hidden, dim),
                    optional(f, b + "ffn_up.bias", hidden),
                    expect(WeightMatrix.of(f.tensor(b + "ffn_down.weight")), dim, hidden),
                    optional(f, b + "ffn_down.bias", dim),
                    vector(f, b + "layer_output_norm.weight", dim),
                    vector(f, b + "layer_output_norm.bias", dim)));
        }
        if (!f.has("tokenizer.ggml.model"))
            throw new UnsupportedModelException(path + " contains no tokenizer (tokenizer.ggml.model is missing)");
        Tokenizer tokenizer = Tokenizer.fromGguf(f);
        if (tokenizer.vocabSize() != cfg.vocabSize())
            throw new UnsupportedModelException(path + ": the tokenizer has " + tokenizer.vocabSize()
                    + " tokens but the embedding " + cfg.vocabSize() + " rows");
        return new Parts(
                cfg,
                tokenizer,
                tok,
                pos,
                type0,
                vector(f, "token_embd_norm.weight", dim),
                vector(f, "token_embd_norm.bias", dim),
                List.copyOf(blocks));
    }

    private static WeightMatrix expect(WeightMatrix w, int rows, int cols) {
        if (w.rows() != rows || w.cols() != cols)
            throw new UnsupportedModelException(
                    "tensor " + w.name() + " is " + w.rows() + "x" + w.cols() + ", expected " + rows + "x" + cols);
        return w;
    }

    private static float[] optional(GgufFile f, String name, int n) {
        return f.tensors().containsKey(name) ? vector(f, name, n) : null;
    }

    /** A bias or norm vector, decoded to the heap (a few kilobytes). */
    private static float[] vector(GgufFile f, String name, int n) {
        GgufFile.Tensor t = f.tensor(name);
        if (t.elementCount() != n)
            throw new UnsupportedModelException(
                    "tensor " + name + " has " + t.elementCount() + " elements, expected " + n);
        float[] v = new float[n];
        new WeightMatrix(name, t.type(), 1, n, t.data()).dequantizeRow(0, v, 0);
        return v;
    }

    // ------------------------------------------------------------------------------------------------
    // Accessors

    public Config config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public Path path() {
        return path;
    }

    public int threads() {
        return pool.size();
    }

    /** Encoding of the largest matrices, e.g. "F16". */
    public GgmlType weightType() {
        return layers.get(0).up().type();
    }

    /**
     * The ids of {@code text} as the model reads them: {@code [CLS] ... [SEP]}, with control-token texts such as
     * {@code [SEP]} in the text read as those tokens (llama.cpp's {@code llama-embedding} and server do the same).
     */
    public int[] tokenize(String text) {
        return tokenizer.encode(text, true, true);
    }

    // ------------------------------------------------------------------------------------------------
    // Forward pass

    /**
     * The pooled embedding of every input (token ids as {@link #tokenize} makes them), not normalized; all inputs
     * run as one forward pass.
     *
     * @throws IllegalArgumentException if an input is empty, longer than {@link Config#contextLength}, holds an id
     *                                  outside the vocabulary, or the model does not pool ({@link Pooling#NONE})
     */
    public float[][] embed(List<int[]> inputs) {
        final Config c = config;
        if (!c.pooling().pools())
            throw new IllegalArgumentException(
                    "this model's pooling is " + c.pooling() + ": it has no embedding per" + " input");
        final int dim = c.dim(), hidden = c.hiddenDim(), heads = c.heads(), hs = c.headSize();
        final int n = inputs.size();
        if (n == 0) return new float[0][];
        // Flatten: input s holds tokens [start[s], start[s] + length[s]).
        final int[] start = new int[n + 1];
        for (int s = 0; s < n; s++) {
            int[] ids = inputs.get(s);
            if (ids.length == 0) throw new IllegalArgumentException("input " + s + " has no tokens");
            if (ids.length > c.contextLength())
                throw new IllegalArgumentException("input " + s + " has " + ids.length + " tokens, more than the "
                        + c.contextLength() + " the model reads");
            for (int id : ids)
                if (id < 0 || id >= c.vocabSize())
                    throw new IllegalArgumentException(
                            "token id " + id + " outside the vocabulary of " + c.vocabSize());
            start[s + 1] = start[s] + ids.length;
        }
        final int T = start[n];
        final int[] tokens = new int[T], pos = new int[T], seqOf = new int[T];
        for (int s = 0; s < n; s++) {
            int[] ids = inputs.get(s);
            for (int i = 0; i < ids.length; i++) {
                tokens[start[s] + i] = ids[i];
                pos[start[s] + i] = i;
                seqOf[start[s] + i] = s;
            }
        }

        float[] x = new float[T * dim], xb = new float[T * dim], att = new float[T * dim];
        float[] q = new float[T * dim], k = new float[T * dim], v = new float[T * dim];
        float[] h = new float[T * hidden];
        // x = LayerNorm(E_tok + E_type[0] + E_pos), added in llama.cpp's order: pos + (tok + type).
        pool.parallelFor(T, 1, (a, b, w) -> {
            float[] row = new float[dim];
            for (int t = a; t < b; t++) {
                tokenEmbedding.dequantizeRow(tokens[t], x, t * dim);
                positionEmbedding.dequantizeRow(pos[t], row, 0);
                for (int i = 0; i < dim; i++) {
                    float e = x[t * dim + i];
                    if (typeRow0 != null) e += typeRow0[i];
                    x[t * dim + i] = row[i] + e;
                }
            }
        });
        layerNorm(x, x, embNormW, embNormB, T);
        final float scale = (float) (1.0 / StrictMath.sqrt(hs));

        for (Layer lw : layers) {
            matmul.multiply(x, T, new WeightMatrix[] {lw.wq(), lw.wk(), lw.wv()}, new float[][] {q, k, v});
            // Biases, then fp16 as llama.cpp's flash attention casts q, k and v.
            addBiasRoundF16(q, lw.bq(), T);
            addBiasRoundF16(k, lw.bk(), T);
            addBiasRoundF16(v, lw.bv(), T);
            // softmax(q·Kᵀ/√d) V per token and head, over the token's own input (both directions).
            pool.parallelFor(T * heads, 1, (a, b, worker) -> {
                float[] scores = workerScores[worker];
                for (int item = a; item < b; item++) {
                    int t = item / heads, head = item % heads, s = seqOf[t];
                    int first = start[s], len = start[s + 1] - first, off = head * hs;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < len; j++) {
                        float sc = QuantKernels.dot(q, t * dim + off, k, (first + j) * dim + off, hs) * scale;
                        scores[j] = sc;
                        if (sc > max) max = sc;
                    }
                    double sum = 0;
                    for (int j = 0; j < len; j++) {
                        float e = ExpF.exp(scores[j] - max);
                        scores[j] = e;
                        sum += e;
                    }
                    float inv = (float) (1.0 / sum);
                    int o = t * dim + off;
                    java.util.Arrays.fill(att, o, o + hs, 0f);
                    for (int j = 0; j < len; j++)
                        QuantKernels.axpy(scores[j] * inv, v, (first + j) * dim + off, att, o, hs);
                }
            });
            // x = LayerNorm(x + Wo att + bo)
            matmul.multiply(att, T, new WeightMatrix[] {lw.wo()}, new float[][] {xb});
            residual(x, xb, lw.bo(), T);
            layerNorm(x, x, lw.attnNormW(), lw.attnNormB(), T);
            // x = LayerNorm(x + W2 GELU(W1 x + b1) + b2)
            matmul.multiply(x, T, new WeightMatrix[] {lw.up()}, new float[][] {h});
            final float[] upBias = lw.upBias();
            pool.parallelFor(T, 1, (a, b, w) -> {
                for (int t = a; t < b; t++) {
                    for (int i = 0; i < hidden; i++) {
                        int at = t * hidden + i;
                        h[at] = LlamaModel.geglu(upBias == null ? h[at] : h[at] + upBias[i], 1f);
                    }
                }
            });
            matmul.multiply(h, T, new WeightMatrix[] {lw.down()}, new float[][] {xb});
            residual(x, xb, lw.downBias(), T);
            layerNorm(x, x, lw.outNormW(), lw.outNormB(), T);
        }

        float[][] out = new float[n][];
        for (int s = 0; s < n; s++) out[s] = pooled(c.pooling(), x, dim, start[s], start[s + 1] - start[s]);
        return out;
    }

    /** One input's embedding from its token vectors, rows {@code first .. first+len) of {@code x} ({@code dim} wide). */
    static float[] pooled(Pooling pooling, float[] x, int dim, int first, int len) {
        float[] e = new float[dim];
        switch (pooling) {
            case CLS -> System.arraycopy(x, first * dim, e, 0, dim);
            case LAST -> System.arraycopy(x, (first + len - 1) * dim, e, 0, dim);
            case MEAN -> {
                // llama.cpp multiplies by a matrix of 1/len weights: sum of x * (1/len).
                float w = 1f / len;
                for (int t = first; t < first + len; t++) QuantKernels.axpy(w, x, t * dim, e, 0, dim);
            }
            default -> throw new IllegalArgumentException(pooling + " gives no embedding per input");
        }
        return e;
    }

    /** {@code v[t] += bias} for each token's row (when the model has the bias), then every element to fp16. */
    private void addBiasRoundF16(float[] v, float[] bias, int T) {
        int dim = config.dim();
        pool.parallelFor(T, 4, (a, b, w) -> {
            for (int t = a; t < b; t++) {
                for (int i = 0; i < dim; i++) {
                    float e = bias == null ? v[t * dim + i] : v[t * dim + i] + bias[i];
                    v[t * dim + i] = LlamaModel.f16Round(e);
                }
            }
        });
    }

    /** {@code x += y + bias} row by row ({@code bias} may be null), in llama.cpp's order: (y + bias) + x. */
    private void residual(float[] x, float[] y, float[] bias, int T) {
        int dim = config.dim();
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < dim; i++) {
                float e = bias == null ? y[t * dim + i] : y[t * dim + i] + bias[i];
                x[t * dim + i] = e + x[t * dim + i];
            }
        }
    }

    /** {@code out[t] = (x[t] - mean) / sqrt(var + eps) * w + b} for each of the T rows, sums in double (as ggml). */
    private void layerNorm(float[] out, float[] x, float[] w, float[] b, int T) {
        int dim = config.dim();
        float eps = config.normEps();
        pool.parallelFor(T, 4, (a, bEnd, worker) -> {
            for (int t = a; t < bEnd; t++) {
                int o = t * dim;
                double sum = 0;
                for (int i = 0; i < dim; i++) sum += x[o + i];
                float mean = (float) (sum / dim);
                double sq = 0;
                for (int i = 0; i < dim; i++) {
                    float d = x[o + i] - mean;
                    sq += d * d;
                }
                float variance = (float) (sq / dim);
                float s = 1f / (float) StrictMath.sqrt(variance + eps);
                for (int i = 0; i < dim; i++) out[o + i] = (x[o + i] - mean) * s * w[i] + b[i];
            }
        });
    }

    // ------------------------------------------------------------------------------------------------
    // Normalization

    /**
     * {@code v / |v|} (euclidean, llama.cpp's {@code --embd-normalize 2}, its default), the sum of squares in double;
     * a zero vector stays zero. Returns a new array.
     */
    public static float[] normalized(float[] v) {
        return normalized(v, v.length);
    }

    /**
     * The first {@code dims} elements of {@code v}, normalized: how a Matryoshka-trained model's embedding is
     * shortened (truncate, then re-normalize, as OpenAI's {@code dimensions} does).
     */
    public static float[] normalized(float[] v, int dims) {
        if (dims <= 0 || dims > v.length)
            throw new IllegalArgumentException("dimensions " + dims + " outside 1.." + v.length);
        double sum = 0;
        for (int i = 0; i < dims; i++) sum += (double) v[i] * v[i];
        double norm = StrictMath.sqrt(sum);
        float inv = norm > 0 ? (float) (1.0 / norm) : 0f;
        float[] out = new float[dims];
        for (int i = 0; i < dims; i++) out[i] = v[i] * inv;
        return out;
    }

    /** Stops the compute threads and unmaps the file. */
    @Override
    public void close() {
        try {
            matmul.close();
        } finally {
            pool.close();
            try {
                mapping.close();
            } catch (Exception e) {
                throw new IllegalStateException("could not unmap " + path, e);
            }
        }
    }
}
