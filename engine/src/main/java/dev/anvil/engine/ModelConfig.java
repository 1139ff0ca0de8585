package dev.anvil.engine;

/**
 * Hyper-parameters of a decoder-only transformer of one of the supported families ({@link ArchitectureTraits}).
 *
 * @param architecture    GGUF {@code general.architecture} ("llama" for llama2.c checkpoints)
 * @param dim             embedding width ({@code <arch>.embedding_length})
 * @param hiddenDim       feed-forward width ({@code <arch>.feed_forward_length})
 * @param layers          transformer blocks ({@code <arch>.block_count})
 * @param heads           query heads ({@code <arch>.attention.head_count})
 * @param kvHeads         key/value heads, fewer than {@code heads} with grouped-query attention
 * @param vocabSize       rows of the token embedding
 * @param contextLength   longest sequence the model was trained for ({@code <arch>.context_length})
 * @param rmsEps          RMSNorm epsilon
 * @param ropeTheta       RoPE base frequency ({@code <arch>.rope.freq_base}, default 10000) of the global layers;
 *                        {@link #ropeTheta(int)} gives each layer's
 * @param ropeDim         leading dimensions of each head that RoPE rotates ({@code <arch>.rope.dimension_count})
 * @param tiedEmbeddings  whether the classifier reuses the token embedding
 * @param headDim         width of one attention head ({@code <arch>.attention.key_length}); {@code dim / heads}
 *                        for most models, but Qwen 3 and Gemma may differ, so Q is {@code heads * headDim} wide
 * @param traits          what the family does differently from Llama (RoPE style, norms, softcaps, windows, ...)
 */
public record ModelConfig(
        String architecture,
        int dim,
        int hiddenDim,
        int layers,
        int heads,
        int kvHeads,
        int vocabSize,
        int contextLength,
        float rmsEps,
        float ropeTheta,
        int ropeDim,
        boolean tiedEmbeddings,
        int headDim,
        ArchitectureTraits traits) {

    /**
     * Longest context accepted from a file. The context length is the one hyper-parameter no tensor shape vouches
     * for, and per-thread attention scratch is sized by it; 4M tokens is beyond any model this engine runs.
     */
    public static final int MAX_CONTEXT_LENGTH = 1 << 22;

    public ModelConfig {
        if (dim <= 0
                || hiddenDim <= 0
                || layers <= 0
                || heads <= 0
                || kvHeads <= 0
                || vocabSize <= 0
                || contextLength <= 0
                || headDim <= 0
                || (long) heads * headDim > Integer.MAX_VALUE / 4) {
            throw new UnsupportedModelException("invalid model shape: " + architecture + " dim " + dim + ", ffn "
                    + hiddenDim + ", " + layers + " layers, " + heads + "/" + kvHeads + " heads of " + headDim
                    + ", vocabulary " + vocabSize + ", context " + contextLength);
        }
        if (contextLength > MAX_CONTEXT_LENGTH) {
            throw new UnsupportedModelException(
                    "context length " + contextLength + " is larger than " + MAX_CONTEXT_LENGTH + " tokens");
        }
        if (!Float.isFinite(rmsEps) || rmsEps < 0 || !Float.isFinite(ropeTheta) || ropeTheta <= 0) {
            throw new UnsupportedModelException("RMSNorm epsilon " + rmsEps + " and RoPE base " + ropeTheta
                    + " must be finite (epsilon >= 0, base > 0)");
        }
        if (heads % kvHeads != 0)
            throw new UnsupportedModelException(heads + " query heads are not a multiple of " + kvHeads + " kv heads");
        if (ropeDim <= 0 || ropeDim > headDim || ropeDim % 2 != 0) {
            throw new UnsupportedModelException("RoPE dimension " + ropeDim + " does not fit head size " + headDim);
        }
        if (traits == null || traits.layerWindow().length != layers)
            throw new UnsupportedModelException("architecture traits do not cover the " + layers + " layers");
    }

    /** A Llama network whose heads split the embedding evenly ({@code headDim = dim / heads}): llama2.c and tests. */
    public ModelConfig(
            String architecture,
            int dim,
            int hiddenDim,
            int layers,
            int heads,
            int kvHeads,
            int vocabSize,
            int contextLength,
            float rmsEps,
            float ropeTheta,
            int ropeDim,
            boolean tiedEmbeddings) {
        this(
                architecture,
                dim,
                hiddenDim,
                layers,
                heads,
                kvHeads,
                vocabSize,
                contextLength,
                rmsEps,
                ropeTheta,
                ropeDim,
                tiedEmbeddings,
                evenHeadDim(dim, heads),
                ArchitectureTraits.llama(
                        Math.max(0, Math.min(layers, ModelLoader.MAX_LAYERS)),
                        evenHeadDim(dim, heads),
                        Float.isFinite(ropeTheta) && ropeTheta > 0 ? ropeTheta : 10000f));
    }

    private static int evenHeadDim(int dim, int heads) {
        if (heads <= 0 || dim <= 0) return 1; // refused by the canonical constructor with the whole shape
        if (dim % heads != 0)
            throw new UnsupportedModelException("embedding width " + dim + " is not divisible by " + heads + " heads");
        return dim / heads;
    }

    /** Width of one attention head. */
    public int headSize() {
        return headDim;
    }

    /** Width of the query vector of one token ({@code heads * headDim}): the attention output's width too. */
    public int qDim() {
        return heads * headDim;
    }

    /** Width of the key (and value) vector of one token in one layer: {@code kvHeads * headDim}. */
    public int kvDim() {
        return kvHeads * headDim;
    }

    /**
     * The sliding attention window of {@code layer}: a token at position p attends to positions
     * {@code [p - W + 1, p]}; 0 means full causal attention.
     */
    public int slidingWindow(int layer) {
        return traits.window(layer);
    }

    /** Per layer: the sliding window, 0 for full attention (a copy; what a KV cache can release blocks by). */
    public int[] layerWindows() {
        return traits.layerWindow();
    }

    /** The RoPE base frequency of {@code layer}. */
    public float ropeTheta(int layer) {
        return traits.ropeBase(layer);
    }
}
