package dev.anvil.engine;

import java.util.List;

/**
 * The tensors of a decoder network (any supported family), checked against its {@link ModelConfig} when built. The matrices point
 * into the model file's mapping (nothing is copied but the norm vectors); {@link ModelLoader} builds them,
 * {@link LlamaModel} reads them.
 *
 * @param config         the hyper-parameters every shape was checked against
 * @param tokenEmbedding [vocab][dim]: one row per token id
 * @param layers         the transformer blocks, first to last
 * @param outputNorm     RMSNorm weight before the classifier
 * @param output         [vocab][dim] classifier; the token embedding itself when the embeddings are tied
 * @param ropeFreqFactors per rotated pair, a divisor of its RoPE frequency ({@code rope_freqs.weight}, Llama 3.1's
 *                        long-context scaling), or null
 */
public record ModelWeights(
        ModelConfig config,
        WeightMatrix tokenEmbedding,
        List<Layer> layers,
        float[] outputNorm,
        WeightMatrix output,
        float[] ropeFreqFactors) {

    /** Without RoPE frequency factors. */
    ModelWeights(
            ModelConfig config,
            WeightMatrix tokenEmbedding,
            List<Layer> layers,
            float[] outputNorm,
            WeightMatrix output) {
        this(config, tokenEmbedding, layers, outputNorm, output, null);
    }

    /**
     * One transformer block's tensors, named as in the block's math ({@link LlamaModel}); the GGUF names are
     * {@code attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_down, ffn_up}, llama2.c's
     * {@code rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3}. The family-specific extras are null when the family
     * has none: Q/K/V biases ({@code attn_q.bias} ...), per-head Q/K norms ({@code attn_q_norm}, {@code attn_k_norm},
     * head_dim weights) and the norms of the attention and feed-forward outputs ({@code post_attention_norm},
     * {@code post_ffw_norm}).
     */
    public record Layer(
            float[] attnNorm,
            WeightMatrix wq,
            WeightMatrix wk,
            WeightMatrix wv,
            WeightMatrix wo,
            float[] ffnNorm,
            WeightMatrix gate,
            WeightMatrix down,
            WeightMatrix up,
            float[] bq,
            float[] bk,
            float[] bv,
            float[] qNorm,
            float[] kNorm,
            float[] postAttnNorm,
            float[] postFfnNorm) {

        /** A Llama block: no biases, no extra norms. */
        Layer(
                float[] attnNorm,
                WeightMatrix wq,
                WeightMatrix wk,
                WeightMatrix wv,
                WeightMatrix wo,
                float[] ffnNorm,
                WeightMatrix gate,
                WeightMatrix down,
                WeightMatrix up) {
            this(attnNorm, wq, wk, wv, wo, ffnNorm, gate, down, up, null, null, null, null, null, null, null);
        }
    }

    /** @throws UnsupportedModelException when a matrix's shape does not match the config */
    public ModelWeights {
        layers = List.copyOf(layers);
        if (ropeFreqFactors != null) {
            if (ropeFreqFactors.length != config.ropeDim() / 2) {
                throw new UnsupportedModelException(
                        "rope_freqs has " + ropeFreqFactors.length + " factors, expected " + config.ropeDim() / 2);
            }
            for (float f : ropeFreqFactors)
                if (!(f > 0) || !Float.isFinite(f))
                    throw new UnsupportedModelException("rope_freqs factor " + f + " is not positive");
        }
        int d = config.dim(), q = config.qDim(), kv = config.kvDim(), h = config.hiddenDim();
        if (layers.size() != config.layers())
            throw new UnsupportedModelException(layers.size() + " blocks, expected " + config.layers());
        expect(tokenEmbedding, config.vocabSize(), d);
        expect(output, config.vocabSize(), d);
        for (Layer l : layers) {
            expect(l.wq(), q, d);
            expect(l.wk(), kv, d);
            expect(l.wv(), kv, d);
            expect(l.wo(), d, q);
            expect(l.gate(), h, d);
            expect(l.down(), d, h);
            expect(l.up(), h, d);
        }
    }

    private static void expect(WeightMatrix w, int rows, int cols) {
        if (w.rows() != rows || w.cols() != cols) {
            throw new UnsupportedModelException(
                    "tensor " + w.name() + " is " + w.rows() + "x" + w.cols() + ", expected " + rows + "x" + cols);
        }
    }

    /** Every weight matrix a matmul multiplies with: the blocks' projections and the classifier. */
    public List<WeightMatrix> matmulMatrices() {
        List<WeightMatrix> all = new java.util.ArrayList<>();
        for (Layer l : layers) all.addAll(List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.gate(), l.down(), l.up()));
        all.add(output);
        return all;
    }
}
