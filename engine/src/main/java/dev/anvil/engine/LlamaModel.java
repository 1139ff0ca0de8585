package dev.anvil.engine;

import java.io.IOException;
import java.nio.file.Path;
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
 * x += Wo · softmax(q·Kᵀ/√d, causal) V          (per sequence, per head; kv head = head / (heads/kvHeads);
 *                                                over the layer's window only when the KV pool gives it one)
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
 *
 * <p>This class is the forward pass; {@link ModelLoader} reads the file into {@link ModelWeights}, {@link Matmul}
 * multiplies by them.
 */
public final class LlamaModel implements AutoCloseable {

    private final ModelConfig config;
    private final ModelWeights weights;
    private final Path path;
    private final AutoCloseable mapping;
    private final ComputePool pool;
    private final Matmul matmul;
    private final float[][] workerScores; // per worker: one head's attention scores over the context
    private final Tokenizer tokenizer;
    private final String tokenizerProblem;

    /** Takes over {@code mapping} (what {@code weights} point into) and {@code pool}; see {@link ModelLoader}. */
    LlamaModel(
            ModelWeights weights,
            Path path,
            AutoCloseable mapping,
            ComputePool pool,
            Tokenizer tokenizer,
            String tokenizerProblem) {
        this.config = weights.config();
        this.weights = weights;
        this.path = path;
        this.mapping = mapping;
        this.pool = pool;
        this.tokenizer = tokenizer;
        this.tokenizerProblem = tokenizerProblem;
        this.workerScores = new float[pool.size()][config.contextLength()];
        this.matmul = new Matmul(weights, pool);
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
        return ModelLoader.load(path, tokenizerPath, threadFactory, threads);
    }

    /**
     * Loads a GGUF file or a llama2.c {@code .bin} checkpoint (told apart by the GGUF magic), failing with
     * {@link UnsupportedModelException} on an unknown architecture, weight type or inconsistent shape.
     *
     * @param threadFactory makes the {@code threads - 1} compute threads (the caller is the remaining one)
     */
    public static LlamaModel load(Path path, ThreadFactory threadFactory, int threads) throws IOException {
        return ModelLoader.load(path, null, threadFactory, threads);
    }

    /**
     * Checks, without loading it, that an open GGUF file is a Llama network this engine can run: architecture,
     * hyper-parameters, every tensor's presence, type and shape, and the tokenizer. Cheap (no weights are read or
     * copied, no threads started): what model registration runs before accepting a file.
     *
     * @throws UnsupportedModelException naming the problem
     */
    public static ModelConfig inspect(GgufFile f) {
        return ModelLoader.inspect(f);
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

    /** A KV cache for this model's shape with as many blocks as fit in {@code byteBudget}; every layer full attention. */
    public KvCachePool newKvCachePool(long byteBudget) {
        return new KvCachePool(config, byteBudget);
    }

    /**
     * A KV cache whose layer {@code l} attends to the last {@code layerWindow[l]} positions only (0 = the whole
     * context): {@link #forward} masks attention with the pool's windows and the pool releases the blocks no window
     * reaches any more (see {@link KvCachePool}).
     */
    public KvCachePool newKvCachePool(long byteBudget, int[] layerWindow) {
        return new KvCachePool(config, layerWindow, byteBudget);
    }

    /** Encoding of the largest matrices (what a user would call the model's quantization), e.g. "Q8_0". */
    public GgmlType weightType() {
        return weights.layers().get(0).gate().type();
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
            if (e.startPosition() < s.earliestStartUnsafe()) {
                throw new IllegalArgumentException("entry starts at position " + e.startPosition()
                        + " but its sliding-window layers already released what it would read (earliest start "
                        + s.earliestStartUnsafe() + ")");
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
            for (int t = a; t < b; t++) weights.tokenEmbedding().dequantizeRow(tokens[t], x, t * dim);
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
            ModelWeights.Layer layerWeights = weights.layers().get(l);
            // Attention: h = RMSNorm(x); q,k,v = Wq h, Wk h, Wv h (one matmul: K and V are small on their own).
            rmsNorm(xb, x, layerWeights.attnNorm(), T, dim);
            matmul.multiply(
                    xb, T, new WeightMatrix[] {layerWeights.wq(), layerWeights.wk(), layerWeights.wv()}, new float[][] {
                        q, k, v
                    });
            // RoPE on q and k, then k and v into the paged cache at each token's position (fp16, as llama.cpp keeps
            // them).
            pool.parallelFor(T, 1, (a, b, w) -> {
                for (int t = a; t < b; t++) {
                    rope(q, t * dim, c.heads(), ropeCos, ropeSin, t * pairs);
                    rope(k, t * kvDim, c.kvHeads(), ropeCos, ropeSin, t * pairs);
                    KvCachePool kvPool = seqOf[t].pool();
                    int slot = pos[t] % KvCachePool.BLOCK_TOKENS, group = kvPool.group(layer);
                    float[] block = kvPool.blocks(group)[seqOf[t].table(group)[pos[t] / KvCachePool.BLOCK_TOKENS]];
                    int ko = kvPool.offset(layer, 0, slot), vo = kvPool.offset(layer, 1, slot);
                    for (int i = 0; i < kvDim; i++) {
                        block[ko + i] = f16Round(k[t * kvDim + i]);
                        block[vo + i] = f16Round(v[t * kvDim + i]);
                    }
                }
            });
            // softmax(q·Kᵀ/√d, causal) V per token and head, over its own sequence's cache; x += Wo of that.
            pool.parallelFor(T * c.heads(), 1, (a, b, worker) -> {
                for (int i = a; i < b; i++)
                    attend(layer, i / c.heads(), i % c.heads(), q, xb2, seqOf, pos, workerScores[worker]);
            });
            matmul.multiply(xb2, T, new WeightMatrix[] {layerWeights.wo()}, new float[][] {xb});
            add(x, xb, T * dim);
            // Feed-forward: x += W2 (SiLU(W1 h) ⊙ W3 h) with h = RMSNorm(x).
            rmsNorm(xb, x, layerWeights.ffnNorm(), T, dim);
            gateUp(xb, T, layerWeights.gate(), layerWeights.up(), hb, hb2);
            matmul.multiply(hb, T, new WeightMatrix[] {layerWeights.down()}, new float[][] {xb});
            add(x, xb, T * dim);
        }

        for (Batch.Entry e : entries) e.sequence().setLength(e.startPosition() + e.tokens().length);

        // logits = Wout RMSNorm(x), only for the rows whose logits are wanted.
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
        rmsNorm(normed, sel, weights.outputNorm(), rowsOut, dim);
        float[] logits = new float[rowsOut * c.vocabSize()];
        matmul.multiply(normed, rowsOut, new WeightMatrix[] {weights.output()}, new float[][] {logits});

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
        matmul.multiply(x, T, new WeightMatrix[] {gate, up}, new float[][] {hb, hb2});
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

    /**
     * Causal attention of token t, head h over positions [first, pos[t]] of its own sequence, where first is 0 for a
     * full-attention layer and pos[t] - W + 1 for a layer with sliding window W (Gemma's local layers: positions
     * before it are masked out, and a sliding pool may have released them); writes out[t][h].
     */
    private void attend(
            int layer, int t, int h, float[] q, float[] out, KvCachePool.Sequence[] seqOf, int[] pos, float[] att) {
        int hs = config.headSize(), dim = config.dim();
        int kvOff = (h / (config.heads() / config.kvHeads())) * hs;
        int qOff = t * dim + h * hs;
        KvCachePool.Sequence s = seqOf[t];
        KvCachePool kv = s.pool();
        int group = kv.group(layer), window = kv.window(layer);
        float[][] blocks = kv.blocks(group);
        int[] table = s.table(group);
        int last = pos[t], first = window == 0 ? 0 : Math.max(0, last - window + 1);
        float scale = (float) (1.0 / StrictMath.sqrt(hs));
        for (int i = 0; i < hs; i++) q[qOff + i] = f16Round(q[qOff + i]);
        float max = Float.NEGATIVE_INFINITY;
        int kvDim = config.kvDim(), kBase = kv.offset(layer, 0, 0) + kvOff, vBase = kv.offset(layer, 1, 0) + kvOff;
        // Walk the cache block by block (one table lookup per 16 positions); a slot is kvDim floats further on.
        final int B = KvCachePool.BLOCK_TOKENS;
        for (int p0 = first - first % B; p0 <= last; p0 += B) {
            float[] block = blocks[table[p0 / B]];
            int start = Math.max(first, p0), end = Math.min(last, p0 + B - 1);
            for (int p = start, ko = kBase + (start - p0) * kvDim; p <= end; p++, ko += kvDim) {
                float score = QuantKernels.dot(q, qOff, block, ko, hs) * scale;
                att[p] = score;
                if (score > max) max = score;
            }
        }
        float sum = 0;
        for (int p = first; p <= last; p++) {
            float e = ExpF.exp(att[p] - max);
            att[p] = e;
            sum += e;
        }
        // The attention weights as llama.cpp's fp16 softmax output holds them.
        float inv = 1f / sum;
        for (int p = first; p <= last; p++) att[p] = f16Round(att[p] * inv);
        int o = t * dim + h * hs;
        final int chunk = 4 * QuantKernels.L;
        if (hs % chunk == 0) {
            // The common head sizes (64, 128): each run of four vectors of the output row stays in registers across
            // all positions instead of a load-FMA-store round trip through memory per position.
            for (int c = 0; c < hs; c += chunk)
                weightedValues4(att, first, last, blocks, table, vBase + c, kvDim, out, o + c);
            return;
        }
        java.util.Arrays.fill(out, o, o + hs, 0f);
        for (int p0 = first - first % B; p0 <= last; p0 += B) {
            float[] block = blocks[table[p0 / B]];
            int start = Math.max(first, p0), end = Math.min(last, p0 + B - 1);
            for (int p = start, vo = vBase + (start - p0) * kvDim; p <= end; p++, vo += kvDim)
                QuantKernels.axpy(att[p], block, vo, out, o, hs);
        }
    }

    /**
     * {@code out[o ..+ 4 vectors) = Σ_p att[p] · V[p][vOff ..]} over positions {@code first..last} of a sequence's
     * cache (its group's {@code blocks} and block {@code table}), accumulated in four registers: the same FMAs in the
     * same order as {@link QuantKernels#axpy} per position, so both paths of {@link #attend} give identical results.
     */
    private static void weightedValues4(
            float[] att, int first, int last, float[][] blocks, int[] table, int vOff, int kvDim, float[] out, int o) {
        final int l = QuantKernels.L, B = KvCachePool.BLOCK_TOKENS;
        FloatVector o0 = FloatVector.zero(QuantKernels.F), o1 = o0, o2 = o0, o3 = o0;
        for (int p0 = first - first % B; p0 <= last; p0 += B) {
            float[] block = blocks[table[p0 / B]];
            int start = Math.max(first, p0), end = Math.min(last, p0 + B - 1);
            for (int p = start, vo = vOff + (start - p0) * kvDim; p <= end; p++, vo += kvDim) {
                FloatVector a = FloatVector.broadcast(QuantKernels.F, att[p]);
                o0 = FloatVector.fromArray(QuantKernels.F, block, vo).fma(a, o0);
                o1 = FloatVector.fromArray(QuantKernels.F, block, vo + l).fma(a, o1);
                o2 = FloatVector.fromArray(QuantKernels.F, block, vo + 2 * l).fma(a, o2);
                o3 = FloatVector.fromArray(QuantKernels.F, block, vo + 3 * l).fma(a, o3);
            }
        }
        o0.intoArray(out, o);
        o1.intoArray(out, o + l);
        o2.intoArray(out, o + 2 * l);
        o3.intoArray(out, o + 3 * l);
    }

    /** Unmaps the weights and stops the compute threads. */
    @Override
    public void close() {
        pool.close();
        matmul.close();
        try {
            mapping.close();
        } catch (Exception e) {
            throw new IllegalStateException("could not unmap " + path, e);
        }
    }
}
