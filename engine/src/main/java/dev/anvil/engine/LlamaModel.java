package dev.anvil.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ThreadFactory;
import jdk.incubator.vector.FloatVector;

/**
 * The decoder of every supported family over weights that stay in the memory-mapped model file: Llama 2/3
 * (TinyLlama, SmolLM, Mistral-style grouped-query attention), Qwen 2 and 3, Gemma 2 and 3, Phi-3. Named after the
 * first family; what each family does differently is data ({@link ArchitectureTraits}, in {@link ModelConfig}),
 * read from the file's metadata, so there is one forward pass and no per-family branches in it.
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
 * <p>Formats: GGUF (architectures {@code llama, qwen2, qwen3, gemma2, gemma3, phi3}; any mix of the encodings in {@link WeightMatrix#SUPPORTED})
 * and llama2.c {@code .bin} checkpoints (fp32; the tokenizer is a separate file, e.g. {@code tok512.bin}).
 *
 * <p>The transformer, per block ({@code x} is the residual stream of all T tokens of a batch):
 * <pre>
 * h = RMSNorm(x) ; q,k,v = Wq h, Wk h, Wv h ; RoPE(q,k at each token's position) ; append k,v to the paged cache
 * x += Wo · softmax(q·Kᵀ/√d, causal) V          (per sequence, per head; kv head = head / (heads/kvHeads);
 *                                                over the layer's window only, in a layer with a sliding window)
 * h = RMSNorm(x) ; x += W2 (SiLU(W1 h) ⊙ W3 h)
 * </pre>
 * then {@code logits = Wout RMSNorm(x)} for the positions whose logits are wanted. RoPE rotates interleaved
 * pairs {@code (2i, 2i+1)} by {@code pos·θ^(-2i/ropeDim)}: llama.cpp's "normal" mode, which GGUF llama
 * files are written for (the converter permutes Hugging Face Q/K rows into that order) and which llama2.c
 * uses natively; the other families rotate {@code (i, i + ropeDim/2)} (NEOX). The traits add, where a family has
 * them: Q/K/V biases, per-head RMSNorm of q and k before RoPE, a scale on the embedding, on q or on the scores,
 * a softcap {@code c·tanh(s/c)} on the scores and on the logits, RMSNorm of each block output before it joins the
 * residual, GELU instead of SiLU in the gate, and per layer a sliding window (position p attends to
 * {@code [p-W+1, p]}) and RoPE base.
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
    private final float[][] workerAcc; // per worker: one head's fp16 output accumulator (FLASH_F16 numerics)
    private AttentionNumerics attentionNumerics = AttentionNumerics.SOFTMAX_F16;
    /** Where forward passes run when not on the CPU (see {@link #attach}); null on the CPU. */
    private DeviceBackend device;
    /** RoPE: per distinct table, the angle per position of each rotated pair; per layer, its table. */
    private final double[][] ropeFrequencies;

    private final int[] ropeTableOf;

    /**
     * Which of llama.cpp's two CPU attention algorithms the engine reproduces the rounding of. Both compute
     * softmax(q·Kᵀ·scale) V on fp16 q, K and V; they differ in the last bits, which int8 activation rounding
     * downstream amplifies into logit differences of the size of the whole activation quantization error (see
     * reference/arch/README.md), so matching the reference's choice is what lets a differential test be tight.
     */
    public enum AttentionNumerics {
        /**
         * llama.cpp without flash attention: the softmax in fp32, its normalized weights rounded to fp16, the
         * weighted sum of values in fp32. Vectorized; the default.
         */
        SOFTMAX_F16,
        /**
         * llama.cpp's flash attention on the CPU (its default since flash attention became "auto"), in the kernel
         * it runs for micro-batches under 64 tokens and decodes over fewer than 512 cache cells: an online softmax
         * whose running sum of weighted values is kept in fp16, rounded after every position and rescaled in fp16
         * when the maximum grows, normalized in fp32 at the end. Scalar, hence slower; llama.cpp's tiled kernel
         * (64 tokens and more) and split-cache decode kernel round differently again.
         */
        FLASH_F16
    }

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
        this.workerAcc = new float[pool.size()][config.headSize()];
        // Pair i of layer l turns by pos * scale_l * base_l^(-2i/ropeDim) / factor_i (scale: linear RoPE scaling,
        // factor: rope_freqs); layers with the same base and scale share one table.
        int layers = config.layers(), pairs = config.ropeDim() / 2;
        this.ropeTableOf = new int[layers];
        List<double[]> tables = new java.util.ArrayList<>();
        List<Integer> firstLayer = new java.util.ArrayList<>();
        for (int l = 0; l < layers; l++) {
            int found = -1;
            for (int r = 0; r < tables.size() && found < 0; r++) {
                int m = firstLayer.get(r);
                if (config.ropeTheta(m) == config.ropeTheta(l)
                        && config.traits().ropeScale(m) == config.traits().ropeScale(l)) found = r;
            }
            if (found < 0) {
                double[] freq = new double[pairs];
                for (int i = 0; i < pairs; i++) {
                    freq[i] = StrictMath.pow(config.ropeTheta(l), -(double) (2 * i) / config.ropeDim())
                            * config.traits().ropeScale(l);
                    if (weights.ropeFreqFactors() != null) freq[i] /= weights.ropeFreqFactors()[i];
                }
                found = tables.size();
                tables.add(freq);
                firstLayer.add(l);
            }
            ropeTableOf[l] = found;
        }
        this.ropeFrequencies = tables.toArray(new double[0][]);
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

    /** As {@link #load(Path, ThreadFactory, int)}, telling {@code progress} how much of the weights is read. */
    public static LlamaModel load(Path path, ThreadFactory threadFactory, int threads, LoadProgress progress)
            throws IOException {
        return ModelLoader.load(path, null, threadFactory, threads, progress);
    }

    /**
     * Checks, without loading it, that an open GGUF file is a network this engine can run: architecture (one
     * of {@code llama, qwen2, qwen3, gemma2, gemma3, phi3}), hyper-parameters, every tensor's presence, type and shape, and the tokenizer. Cheap (no weights are read or
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

    /**
     * Selects the attention rounding ({@link AttentionNumerics#SOFTMAX_F16} unless set). Like {@link #forward},
     * never concurrently with a forward pass.
     */
    public void attentionNumerics(AttentionNumerics numerics) {
        this.attentionNumerics = java.util.Objects.requireNonNull(numerics);
    }

    public AttentionNumerics attentionNumerics() {
        return attentionNumerics;
    }

    /**
     * A KV cache for this model's shape with as many blocks as fit in {@code byteBudget}, with the model's own
     * attention windows ({@link ModelConfig#slidingWindow}): full attention for Llama, and for Gemma's local layers
     * their sliding window, outside of which blocks are released.
     */
    public KvCachePool newKvCachePool(long byteBudget) {
        return new KvCachePool(config, byteBudget);
    }

    /**
     * A KV cache whose layer {@code l} attends to the last {@code layerWindow[l]} positions only (0 = the whole
     * context): {@link #forward} masks attention with the pool's windows and the pool releases the blocks no window
     * reaches any more (see {@link KvCachePool}). A layer the model itself gives a sliding window must keep it.
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
        final int dim = c.dim(), qDim = c.qDim(), kvDim = c.kvDim(), hidden = c.hiddenDim(), hs = c.headSize();
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
            if (e.startPosition() < s.sharedEndUnsafe()) {
                throw new IllegalArgumentException("entry starts at position " + e.startPosition()
                        + " inside the sequence's blocks shared through the prefix cache (they end at "
                        + s.sharedEndUnsafe() + "); truncate it first");
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

        if (device != null) return deviceForward(batch, tokens, pos, seqOf);
        final ArchitectureTraits tr = c.traits();
        float[] x = new float[T * dim], xb = new float[T * dim], xb2 = new float[T * qDim];
        float[] q = new float[T * qDim], k = new float[T * kvDim], v = new float[T * kvDim];
        float[] hb = new float[T * hidden], hb2 = new float[T * hidden];
        final float embeddingScale = tr.embeddingScale();
        pool.parallelFor(T, 1, (a, b, w) -> {
            for (int t = a; t < b; t++) {
                weights.tokenEmbedding().dequantizeRow(tokens[t], x, t * dim);
                if (embeddingScale != 1f) for (int i = t * dim; i < (t + 1) * dim; i++) x[i] *= embeddingScale;
            }
        });
        // RoPE rotations depend only on the position and the layer's frequencies: computed once per token and table,
        // used by every layer of that table (one table unless local layers have their own base, as in Gemma 3).
        final int pairs = c.ropeDim() / 2;
        float[][] tableCos = new float[ropeFrequencies.length][], tableSin = new float[ropeFrequencies.length][];
        for (int r = 0; r < ropeFrequencies.length; r++) {
            double[] freq = ropeFrequencies[r];
            tableCos[r] = new float[T * pairs];
            tableSin[r] = new float[T * pairs];
            for (int t = 0; t < T; t++) {
                for (int i = 0; i < pairs; i++) {
                    double angle = pos[t] * freq[i];
                    tableCos[r][t * pairs + i] = (float) StrictMath.cos(angle);
                    tableSin[r][t * pairs + i] = (float) StrictMath.sin(angle);
                }
            }
        }

        for (int l = 0; l < c.layers(); l++) {
            final int layer = l;
            ModelWeights.Layer lw = weights.layers().get(l);
            final float[] cos = tableCos[ropeTableOf[l]], sin = tableSin[ropeTableOf[l]];
            // Attention: h = RMSNorm(x); q,k,v = Wq h, Wk h, Wv h (one matmul: K and V are small on their own).
            rmsNorm(xb, x, lw.attnNorm(), T, dim);
            matmul.multiply(xb, T, new WeightMatrix[] {lw.wq(), lw.wk(), lw.wv()}, new float[][] {q, k, v});
            if (lw.bq() != null) addRows(q, lw.bq(), T);
            if (lw.bk() != null) addRows(k, lw.bk(), T);
            if (lw.bv() != null) addRows(v, lw.bv(), T);
            // Per-head RMSNorm of q and k (Qwen 3, Gemma 3), before RoPE.
            if (lw.qNorm() != null) rmsNorm(q, q, lw.qNorm(), T * c.heads(), hs);
            if (lw.kNorm() != null) rmsNorm(k, k, lw.kNorm(), T * c.kvHeads(), hs);
            // RoPE on q and k, then k and v into the paged cache at each token's position (fp16, as llama.cpp keeps
            // them).
            pool.parallelFor(T, 1, (a, b, w) -> {
                for (int t = a; t < b; t++) {
                    rope(q, t * qDim, c.heads(), cos, sin, t * pairs);
                    rope(k, t * kvDim, c.kvHeads(), cos, sin, t * pairs);
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
            // softmax(q·Kᵀ·scale, causal, windowed) V per token and head, over its own sequence's cache.
            final boolean flash = attentionNumerics == AttentionNumerics.FLASH_F16;
            pool.parallelFor(T * c.heads(), 1, (a, b, worker) -> {
                for (int i = a; i < b; i++) {
                    attend(
                            layer,
                            i / c.heads(),
                            i % c.heads(),
                            q,
                            xb2,
                            seqOf,
                            pos,
                            flash,
                            workerScores[worker],
                            workerAcc[worker]);
                }
            });
            // x += Wo of that (after its own RMSNorm in Gemma).
            matmul.multiply(xb2, T, new WeightMatrix[] {lw.wo()}, new float[][] {xb});
            if (lw.postAttnNorm() != null) rmsNorm(xb, xb, lw.postAttnNorm(), T, dim);
            add(x, xb, T * dim);
            // Feed-forward: x += W2 (act(W1 h) ⊙ W3 h) with h = RMSNorm(x).
            rmsNorm(xb, x, lw.ffnNorm(), T, dim);
            gateUp(xb, T, lw.gate(), lw.up(), hb, hb2, tr.activation());
            matmul.multiply(hb, T, new WeightMatrix[] {lw.down()}, new float[][] {xb});
            if (lw.postFfnNorm() != null) rmsNorm(xb, xb, lw.postFfnNorm(), T, dim);
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
        if (tr.finalLogitSoftcap() != 0f) softcap(logits, tr.finalLogitSoftcap());

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
     * {@link #forward} on the attached device: the same checks and flattening, then one {@link DeviceBackend#forward}
     * for every layer and the classifier; the sequences advance as on the CPU.
     */
    private ForwardResult deviceForward(Batch batch, int[] tokens, int[] pos, KvCachePool.Sequence[] seqOf) {
        List<Batch.Entry> entries = batch.entries();
        int rowsOut = 0;
        for (Batch.Entry e : entries) rowsOut += e.allLogits() ? e.tokens().length : 1;
        int[] rows = new int[rowsOut];
        int r = 0, t0 = 0;
        for (Batch.Entry e : entries) {
            int n = e.tokens().length;
            for (int i = e.allLogits() ? 0 : n - 1; i < n; i++) rows[r++] = t0 + i;
            t0 += n;
        }
        float[] logits = device.forward(DeviceBatch.of(tokens, pos, seqOf, rows));
        for (Batch.Entry e : entries) e.sequence().setLength(e.startPosition() + e.tokens().length);
        int vocab = config.vocabSize();
        float[][][] result = new float[entries.size()][][];
        r = 0;
        for (int ei = 0; ei < entries.size(); ei++) {
            int n = entries.get(ei).allLogits() ? entries.get(ei).tokens().length : 1;
            result[ei] = new float[n][];
            for (int i = 0; i < n; i++, r++)
                result[ei][i] =
                        rowsOut == 1 ? logits : java.util.Arrays.copyOfRange(logits, r * vocab, (r + 1) * vocab);
        }
        return new ForwardResult(batch, result);
    }

    /**
     * Runs every later {@link #forward} on {@code backend} (made by an {@link Accelerator} for this model and the KV
     * pool its scheduler uses); null returns to the CPU. Like {@link #forward}, never concurrently with a pass.
     */
    public void attach(DeviceBackend backend) {
        this.device = backend;
    }

    /** The device forward passes run on, or null for the CPU. */
    public DeviceBackend device() {
        return device;
    }

    /** The tensors (views of the mapped file), for a backend to upload. */
    public ModelWeights weights() {
        return weights;
    }

    /**
     * Layer {@code layer}'s RoPE angle per position of each rotated pair (base, linear scaling and rope_freqs
     * applied): what {@link #forward} rotates by, for a backend to rotate identically.
     */
    public double[] ropeFrequencies(int layer) {
        return ropeFrequencies[ropeTableOf[layer]].clone();
    }

    /**
     * {@code hb = act(gate x) ⊙ up x} for the T rows of {@code x}, with {@code hb2} receiving the up projection:
     * both projections in one matmul, then the gated activation split by elements (a single decode token uses both
     * threads too). Applying it per unit inside the matmul measured slower: each work item then streams two matrices.
     */
    private void gateUp(
            float[] x,
            int T,
            WeightMatrix gate,
            WeightMatrix up,
            float[] hb,
            float[] hb2,
            ArchitectureTraits.Activation activation) {
        matmul.multiply(x, T, new WeightMatrix[] {gate, up}, new float[][] {hb, hb2});
        final int n = T * gate.rows(), piece = 256;
        if (activation == ArchitectureTraits.Activation.SILU) {
            pool.parallelFor((n + piece - 1) / piece, 1, (a, b, w) -> {
                for (int i = a * piece, end = Math.min(n, b * piece); i < end; i++) hb[i] = swiglu(hb[i], hb2[i]);
            });
        } else {
            pool.parallelFor((n + piece - 1) / piece, 1, (a, b, w) -> {
                for (int i = a * piece, end = Math.min(n, b * piece); i < end; i++) hb[i] = geglu(hb[i], hb2[i]);
            });
        }
    }

    /** SwiGLU of one element: SiLU(gate) * up. */
    private static float swiglu(float gate, float up) {
        return gate / (1f + ExpF.exp(-gate)) * up;
    }

    /**
     * GeGLU of one element: GELU(gate) * up with the tanh approximation of GELU, evaluated as llama.cpp's CPU
     * backend does: through a table of GELU at every fp16 value (the gate rounded to fp16, the result rounded to
     * fp16), 0 below -10 and the identity above 10.
     */
    static float geglu(float gate, float up) {
        if (gate <= -10f) return 0f;
        if (gate >= 10f) return gate * up;
        return GELU_F16[Float.floatToFloat16(gate) & 0xffff] * up;
    }

    /** GELU (tanh approximation) of every fp16 value, indexed by its bits, rounded to fp16. */
    private static final float[] GELU_F16 = geluTable();

    private static float[] geluTable() {
        float[] table = new float[1 << 16];
        for (int h = 0; h < table.length; h++) {
            float x = Float.float16ToFloat((short) h);
            // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in float as ggml computes it
            float inner = 0.7978845608028654f * x * (1f + 0.044715f * x * x);
            table[h] = f16Round(0.5f * x * (1f + (float) StrictMath.tanh(inner)));
        }
        return table;
    }

    /** {@code v = cap * tanh(v / cap)}: Gemma 2's soft bound on the output logits. */
    private static void softcap(float[] v, float cap) {
        float inv = 1f / cap;
        for (int i = 0; i < v.length; i++) v[i] = cap * (float) StrictMath.tanh(v[i] * inv);
    }

    /** Adds {@code bias} to each of the T rows of {@code x} (rows as wide as the bias). */
    private static void addRows(float[] x, float[] bias, int T) {
        int n = bias.length;
        for (int t = 0; t < T; t++) QuantKernels.axpy(1f, bias, 0, x, t * n, n);
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

    /**
     * Rotates, in each of {@code nHeads} heads, pair i of the first ropeDim dims by pos * theta^(-2i/ropeDim)
     * (precomputed cos/sin): the pairs are (2i, 2i+1) in the NORM style, (i, i + ropeDim/2) in the NEOX style.
     */
    private void rope(float[] vec, int off, int nHeads, float[] cos, float[] sin, int trig) {
        int hs = config.headSize(), rd = config.ropeDim();
        if (config.traits().rope() == ArchitectureTraits.RopeStyle.NORM) {
            for (int i = 0; i < rd; i += 2) {
                float co = cos[trig + i / 2], si = sin[trig + i / 2];
                for (int h = 0; h < nHeads; h++) {
                    int j = off + h * hs + i;
                    float v0 = vec[j], v1 = vec[j + 1];
                    vec[j] = v0 * co - v1 * si;
                    vec[j + 1] = v0 * si + v1 * co;
                }
            }
            return;
        }
        int half = rd / 2;
        for (int h = 0; h < nHeads; h++) {
            int j0 = off + h * hs;
            for (int i = 0; i < half; i++) {
                float co = cos[trig + i], si = sin[trig + i];
                int j = j0 + i;
                float v0 = vec[j], v1 = vec[j + half];
                vec[j] = v0 * co - v1 * si;
                vec[j + half] = v0 * si + v1 * co;
            }
        }
    }

    /**
     * Causal attention of token t, head h over positions [first, pos[t]] of its own sequence, where first is 0 for
     * full attention and {@code pos[t] - W + 1} in a layer with sliding window W; writes out[t][h]. The numerics are
     * llama.cpp's softmax path ({@link #softmaxAttention}, scratch {@code att} of one score per position) or its
     * flash-attention path ({@link #flashAttention}, scratch {@code acc} of one head).
     */
    private void attend(
            int layer,
            int t,
            int h,
            float[] q,
            float[] out,
            KvCachePool.Sequence[] seqOf,
            int[] pos,
            boolean flash,
            float[] att,
            float[] acc) {
        int hs = config.headSize(), qDim = config.qDim();
        int kvOff = (h / (config.heads() / config.kvHeads())) * hs;
        int qOff = t * qDim + h * hs;
        KvCachePool.Sequence s = seqOf[t];
        KvCachePool kv = s.pool();
        // The pool's window: the model's where it has one (the pool checks), or one a caller gave a full layer.
        int group = kv.group(layer), window = kv.window(layer);
        int last = pos[t], first = window == 0 ? 0 : Math.max(0, last - window + 1);
        // llama.cpp converts q to fp16 for the dot with the fp16 keys (after scaling it, where the family scales q).
        float queryScale = config.traits().queryScale();
        for (int i = 0; i < hs; i++) q[qOff + i] = f16Round(q[qOff + i] * queryScale);
        int kBase = kv.offset(layer, 0, 0) + kvOff, vBase = kv.offset(layer, 1, 0) + kvOff;
        float[][] blocks = kv.blocks(group);
        int[] table = s.table(group);
        if (flash) flashAttention(q, qOff, blocks, table, first, last, kBase, vBase, acc, out, t * qDim + h * hs);
        else softmaxAttention(q, qOff, blocks, table, first, last, kBase, vBase, att, out, t * qDim + h * hs);
    }

    /**
     * llama.cpp's softmax attention ({@link AttentionNumerics#SOFTMAX_F16}) of one head's query at {@code q[qOff..]}
     * over cache positions {@code first..last} (keys at {@code kBase}, values at {@code vBase} of each slot): scores,
     * then the softmax rounded to fp16 as ggml's output holds it, then the weighted values into {@code out[o..]}.
     */
    private void softmaxAttention(
            float[] q,
            int qOff,
            float[][] blocks,
            int[] table,
            int first,
            int last,
            int kBase,
            int vBase,
            float[] att,
            float[] out,
            int o) {
        ArchitectureTraits tr = config.traits();
        int hs = config.headSize();
        float scale = tr.scoreScale(), cap = tr.attnLogitSoftcap();
        float max = Float.NEGATIVE_INFINITY;
        int kvDim = config.kvDim();
        final int bt = KvCachePool.BLOCK_TOKENS;
        // Walk the cache block by block (one table lookup per 16 positions); a slot is kvDim floats further on.
        for (int p0 = first - first % bt; p0 <= last; p0 += bt) {
            float[] block = blocks[table[p0 / bt]];
            int start = Math.max(p0, first), end = Math.min(last, p0 + bt - 1);
            if (cap == 0f) {
                for (int p = start, ko = kBase + (start - p0) * kvDim; p <= end; p++, ko += kvDim) {
                    float score = QuantKernels.dot(q, qOff, block, ko, hs) * scale;
                    att[p] = score;
                    if (score > max) max = score;
                }
            } else {
                // Gemma 2's softcap, cap * tanh(score / cap), with the 1/cap folded into the scale as llama.cpp does.
                float capScale = scale / cap;
                for (int p = start, ko = kBase + (start - p0) * kvDim; p <= end; p++, ko += kvDim) {
                    float score = cap * (float) StrictMath.tanh(QuantKernels.dot(q, qOff, block, ko, hs) * capScale);
                    att[p] = score;
                    if (score > max) max = score;
                }
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
        final int chunk = 4 * QuantKernels.L;
        if (hs % chunk == 0) {
            // The common head sizes (64, 128): each run of four vectors of the output row stays in registers across
            // all positions instead of a load-FMA-store round trip through memory per position.
            for (int c = 0; c < hs; c += chunk)
                weightedValues4(att, first, last, blocks, table, vBase + c, kvDim, out, o + c);
            return;
        }
        java.util.Arrays.fill(out, o, o + hs, 0f);
        for (int p0 = first - first % bt; p0 <= last; p0 += bt) {
            float[] block = blocks[table[p0 / bt]];
            int start = Math.max(p0, first), end = Math.min(last, p0 + bt - 1);
            for (int p = start, vo = vBase + (start - p0) * kvDim; p <= end; p++, vo += kvDim)
                QuantKernels.axpy(att[p], block, vo, out, o, hs);
        }
    }

    /**
     * {@link #softmaxAttention} with llama.cpp's flash-attention rounding ({@link AttentionNumerics#FLASH_F16}): one
     * pass over the positions with a running maximum M and sum S; the weighted values accumulate in fp16
     * ({@code acc}, rounded after each fused multiply-add), rescaled by e^(M_old - M_new) whenever the maximum grows.
     */
    private void flashAttention(
            float[] q,
            int qOff,
            float[][] blocks,
            int[] table,
            int first,
            int last,
            int kBase,
            int vBase,
            float[] acc,
            float[] out,
            int o) {
        ArchitectureTraits tr = config.traits();
        int hs = config.headSize();
        float scale = tr.scoreScale(), cap = tr.attnLogitSoftcap();
        float capScale = cap == 0f ? 0f : scale / cap;
        float max = Float.NEGATIVE_INFINITY, sum = 0f;
        java.util.Arrays.fill(acc, 0, hs, 0f);
        int kvDim = config.kvDim();
        final int bt = KvCachePool.BLOCK_TOKENS;
        for (int p0 = first - first % bt; p0 <= last; p0 += bt) {
            float[] block = blocks[table[p0 / bt]];
            int start = Math.max(p0, first), end = Math.min(last, p0 + bt - 1);
            int ko = kBase + (start - p0) * kvDim, vo = vBase + (start - p0) * kvDim;
            for (int p = start; p <= end; p++, ko += kvDim, vo += kvDim) {
                float dot = QuantKernels.dot(q, qOff, block, ko, hs);
                float score = cap == 0f ? dot * scale : cap * (float) StrictMath.tanh(dot * capScale);
                float ms = 1f, vs = 1f;
                if (score > max) {
                    ms = ExpF.exp(max - score);
                    max = score;
                    for (int i = 0; i < hs; i++) acc[i] = f16Round(acc[i] * ms);
                } else {
                    vs = ExpF.exp(score - max);
                }
                for (int i = 0; i < hs; i++) acc[i] = f16Round(Math.fma(block[vo + i], vs, acc[i]));
                sum = sum * ms + vs;
            }
        }
        float inv = sum == 0f ? 0f : 1f / sum;
        for (int i = 0; i < hs; i++) out[o + i] = acc[i] * inv;
    }

    /**
     * {@code out[o ..+ 4 vectors) = Σ_p att[p] · V[p][vOff ..]} over positions {@code first..last} of a sequence's
     * cache (its group's {@code blocks} and block {@code table}), accumulated in four registers: the same FMAs in the
     * same order as {@link QuantKernels#axpy} per position, so both paths of {@link #softmaxAttention} give identical results.
     */
    private static void weightedValues4(
            float[] att, int first, int last, float[][] blocks, int[] table, int vOff, int kvDim, float[] out, int o) {
        final int l = QuantKernels.L, bt = KvCachePool.BLOCK_TOKENS;
        FloatVector o0 = FloatVector.zero(QuantKernels.F), o1 = o0, o2 = o0, o3 = o0;
        for (int p0 = first - first % bt; p0 <= last; p0 += bt) {
            float[] block = blocks[table[p0 / bt]];
            int start = Math.max(p0, first), end = Math.min(last, p0 + bt - 1);
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
        if (device != null) device.close();
        pool.close();
        matmul.close();
        try {
            mapping.close();
        } catch (Exception e) {
            throw new IllegalStateException("could not unmap " + path, e);
        }
    }
}
