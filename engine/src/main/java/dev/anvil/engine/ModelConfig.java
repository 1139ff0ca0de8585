package dev.anvil.engine;

/**
 * Hyper-parameters of a Llama-family transformer.
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
 * @param ropeTheta       RoPE base frequency ({@code <arch>.rope.freq_base}, default 10000)
 * @param ropeDim         leading dimensions of each head that RoPE rotates ({@code <arch>.rope.dimension_count})
 * @param tiedEmbeddings  whether the classifier reuses the token embedding
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
        boolean tiedEmbeddings) {

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
                || contextLength <= 0) {
            throw new UnsupportedModelException("invalid model shape: " + this);
        }
        if (contextLength > MAX_CONTEXT_LENGTH) {
            throw new UnsupportedModelException(
                    "context length " + contextLength + " is larger than " + MAX_CONTEXT_LENGTH + " tokens");
        }
        if (!Float.isFinite(rmsEps) || rmsEps < 0 || !Float.isFinite(ropeTheta) || ropeTheta <= 0) {
            throw new UnsupportedModelException("RMSNorm epsilon " + rmsEps + " and RoPE base " + ropeTheta
                    + " must be finite (epsilon >= 0, base > 0)");
        }
        if (dim % heads != 0)
            throw new UnsupportedModelException("embedding width " + dim + " is not divisible by " + heads + " heads");
        if (heads % kvHeads != 0)
            throw new UnsupportedModelException(heads + " query heads are not a multiple of " + kvHeads + " kv heads");
        if (ropeDim <= 0 || ropeDim > dim / heads || ropeDim % 2 != 0) {
            throw new UnsupportedModelException("RoPE dimension " + ropeDim + " does not fit head size " + dim / heads);
        }
    }

    /** Width of one attention head. */
    public int headSize() {
        return dim / heads;
    }

    /** Width of the key (and value) vector of one token in one layer: {@code kvHeads * headSize}. */
    public int kvDim() {
        return kvHeads * headSize();
    }
}
