package dev.anvil.engine;

import java.util.Arrays;

/**
 * What one decoder family does differently from Llama, as data: {@link LlamaModel} runs every supported family
 * through one forward pass that consults these choices, and {@link ModelLoader} builds them from
 * {@code general.architecture} plus the file's metadata (see {@code ModelLoader.traits}). Every switch has a
 * neutral value (the Llama one), and the forward pass skips the work of a switch that is off.
 *
 * @param rope              how RoPE pairs the dimensions of a head
 * @param qkvBias           whether Q, K and V carry a bias vector that the file must provide (Qwen 2); other
 *                          families add biases only when the file happens to hold them
 * @param qkNorm            per-head RMSNorm of Q and K (over head_dim, its own weights) before RoPE (Qwen 3, Gemma 3)
 * @param postNorms         RMSNorm of the attention and feed-forward outputs before they join the residual (Gemma 2/3)
 * @param embeddingScale    factor applied to the token embedding (Gemma: sqrt(n_embd)); 1 = none
 * @param activation        gate nonlinearity of the gated feed-forward
 * @param attnLogitSoftcap  {@code s = c·tanh(s/c)} on the scaled attention scores (Gemma 2); 0 = none
 * @param finalLogitSoftcap the same on the output logits (Gemma 2); 0 = none
 * @param queryScale        factor applied to Q after RoPE, before it is rounded to fp16 (Gemma, Phi-3 scale Q rather
 *                          than the scores, as llama.cpp does for them); 1 = none
 * @param scoreScale        factor applied to q·k (1/sqrt(head_dim) for Llama); 1 when {@code queryScale} does the job
 * @param fusedQkv          Q, K and V are stored as one {@code attn_qkv} tensor (Phi-3), split at load into row ranges
 * @param fusedGateUp       gate and up projections are one {@code ffn_up} tensor, gate rows first (Phi-3)
 * @param layerWindow       per layer: the sliding attention window W (a token at position p attends to
 *                          {@code [p-W+1, p]}), or 0 for full causal attention
 * @param layerRopeBase     per layer: the RoPE base frequency (Gemma 3's local layers use {@code rope.freq_base_swa})
 * @param layerRopeScale    per layer: linear RoPE scaling, the factor on every angle ({@code 1/rope.scaling.factor};
 *                          1 = none; Gemma 3's local layers are not scaled)
 */
public record ArchitectureTraits(
        RopeStyle rope,
        boolean qkvBias,
        boolean qkNorm,
        boolean postNorms,
        float embeddingScale,
        Activation activation,
        float attnLogitSoftcap,
        float finalLogitSoftcap,
        float queryScale,
        float scoreScale,
        boolean fusedQkv,
        boolean fusedGateUp,
        int[] layerWindow,
        float[] layerRopeBase,
        float[] layerRopeScale) {

    /** llama.cpp's RoPE modes. */
    public enum RopeStyle {
        /** Rotates adjacent pairs {@code (2i, 2i+1)}: llama.cpp's "normal" mode, used by GGUF llama files and llama2.c. */
        NORM,
        /** Rotates {@code (i, i + ropeDim/2)}: GPT-NeoX / Hugging Face "rotate_half" order (Qwen, Gemma, Phi-3). */
        NEOX
    }

    /** Gate nonlinearity of the feed-forward {@code down(act(gate x) ⊙ up x)}. */
    public enum Activation {
        /** SiLU, x·sigmoid(x) (SwiGLU). */
        SILU,
        /** GELU, tanh approximation (GeGLU, Gemma). */
        GELU_TANH
    }

    public ArchitectureTraits {
        layerWindow = layerWindow.clone();
        layerRopeBase = layerRopeBase.clone();
        layerRopeScale = layerRopeScale.clone();
        if (layerWindow.length != layerRopeBase.length || layerWindow.length != layerRopeScale.length)
            throw new IllegalArgumentException("per-layer windows, RoPE bases and scales differ in length");
        for (float f : layerRopeScale) {
            if (!Float.isFinite(f) || f <= 0)
                throw new UnsupportedModelException("RoPE scale " + f + " must be finite and positive");
        }
        for (int w : layerWindow)
            if (w < 0) throw new UnsupportedModelException("sliding window " + w + " is negative");
        for (float b : layerRopeBase) {
            if (!Float.isFinite(b) || b <= 0)
                throw new UnsupportedModelException("RoPE base " + b + " must be finite and positive");
        }
        if (!(embeddingScale > 0)
                || !(queryScale > 0)
                || !(scoreScale > 0)
                || !(attnLogitSoftcap >= 0)
                || !(finalLogitSoftcap >= 0)
                || !Float.isFinite(embeddingScale + queryScale + scoreScale + attnLogitSoftcap + finalLogitSoftcap)) {
            throw new UnsupportedModelException(
                    "invalid scales or softcaps: embedding " + embeddingScale + ", query " + queryScale + ", score "
                            + scoreScale + ", softcaps " + attnLogitSoftcap + "/" + finalLogitSoftcap);
        }
    }

    /** Llama (and llama2.c): NORM RoPE, SiLU, no extras, scores scaled by 1/sqrt(headDim), full attention everywhere. */
    public static ArchitectureTraits llama(int layers, int headDim, float ropeBase) {
        return builder(layers, headDim, ropeBase).build();
    }

    /** Llama's choices for {@code layers} layers, to be changed where a family differs. */
    public static Builder builder(int layers, int headDim, float ropeBase) {
        return new Builder(layers, headDim, ropeBase);
    }

    /** These choices, to be changed in a copy. */
    Builder toBuilder() {
        Builder b = new Builder(layerWindow.length, 1, 1f);
        b.rope = rope;
        b.qkvBias = qkvBias;
        b.qkNorm = qkNorm;
        b.postNorms = postNorms;
        b.embeddingScale = embeddingScale;
        b.activation = activation;
        b.attnLogitSoftcap = attnLogitSoftcap;
        b.finalLogitSoftcap = finalLogitSoftcap;
        b.queryScale = queryScale;
        b.scoreScale = scoreScale;
        b.fusedQkv = fusedQkv;
        b.fusedGateUp = fusedGateUp;
        b.layerWindow = layerWindow.clone();
        b.layerRopeBase = layerRopeBase.clone();
        b.layerRopeScale = layerRopeScale.clone();
        return b;
    }

    /**
     * A family's traits as its differences from Llama: each setter names one of them (the record's parameters say
     * what they mean), and {@link #build()} checks the whole.
     */
    public static final class Builder {
        private RopeStyle rope = RopeStyle.NORM;
        private boolean qkvBias, qkNorm, postNorms, fusedQkv, fusedGateUp;
        private float embeddingScale = 1f, attnLogitSoftcap, finalLogitSoftcap, queryScale = 1f, scoreScale;
        private Activation activation = Activation.SILU;
        private int[] layerWindow;
        private float[] layerRopeBase, layerRopeScale;

        private Builder(int layers, int headDim, float ropeBase) {
            scoreScale = (float) (1.0 / StrictMath.sqrt(headDim));
            layerWindow = new int[layers];
            layerRopeBase = new float[layers];
            layerRopeScale = new float[layers];
            Arrays.fill(layerRopeBase, ropeBase);
            Arrays.fill(layerRopeScale, 1f);
        }

        public Builder rope(RopeStyle style) {
            rope = style;
            return this;
        }

        public Builder qkvBias() {
            qkvBias = true;
            return this;
        }

        public Builder qkNorm(boolean on) {
            qkNorm = on;
            return this;
        }

        public Builder postNorms() {
            postNorms = true;
            return this;
        }

        public Builder embeddingScale(float scale) {
            embeddingScale = scale;
            return this;
        }

        public Builder activation(Activation act) {
            activation = act;
            return this;
        }

        /** Soft-caps of the attention scores and of the output logits (0 = none). */
        public Builder softcaps(float attention, float finalLogits) {
            attnLogitSoftcap = attention;
            finalLogitSoftcap = finalLogits;
            return this;
        }

        /** Scale Q by {@code scale} (after RoPE) instead of the scores by 1/sqrt(head_dim). */
        public Builder scaleQueries(float scale) {
            queryScale = scale;
            scoreScale = 1f;
            return this;
        }

        public Builder fused(boolean qkv, boolean gateUp) {
            fusedQkv = qkv;
            fusedGateUp = gateUp;
            return this;
        }

        /** Per layer: the sliding window, 0 for full attention. */
        public Builder layerWindow(int[] windows) {
            layerWindow = windows.clone();
            return this;
        }

        /** Per layer: the RoPE base. */
        public Builder layerRopeBase(float[] bases) {
            layerRopeBase = bases.clone();
            return this;
        }

        /** Per layer: the linear RoPE scale. */
        public Builder layerRopeScale(float[] scales) {
            layerRopeScale = scales.clone();
            return this;
        }

        public ArchitectureTraits build() {
            return new ArchitectureTraits(
                    rope,
                    qkvBias,
                    qkNorm,
                    postNorms,
                    embeddingScale,
                    activation,
                    attnLogitSoftcap,
                    finalLogitSoftcap,
                    queryScale,
                    scoreScale,
                    fusedQkv,
                    fusedGateUp,
                    layerWindow,
                    layerRopeBase,
                    layerRopeScale);
        }
    }

    /** The sliding window of layer {@code l}, 0 for full attention. */
    public int window(int l) {
        return layerWindow[l];
    }

    /** The RoPE base of layer {@code l}. */
    public float ropeBase(int l) {
        return layerRopeBase[l];
    }

    /** The linear RoPE scale of layer {@code l} (1 = none). */
    public float ropeScale(int l) {
        return layerRopeScale[l];
    }

    /** A copy with every layer's linear RoPE scale set (Gemma 3: local layers keep 1); {@code globalOnly} leaves the
     * sliding-window layers unscaled. */
    ArchitectureTraits withRopeScale(float scale, boolean globalOnly) {
        float[] scales = new float[layerWindow.length];
        for (int l = 0; l < scales.length; l++) scales[l] = globalOnly && layerWindow[l] != 0 ? 1f : scale;
        return toBuilder().layerRopeScale(scales).build();
    }

    /** Per layer: the linear RoPE scale (a copy). */
    @Override
    public float[] layerRopeScale() {
        return layerRopeScale.clone();
    }

    /** Per layer: the sliding window, 0 for full attention (a copy). */
    @Override
    public int[] layerWindow() {
        return layerWindow.clone();
    }

    /** Per layer: the RoPE base (a copy). */
    @Override
    public float[] layerRopeBase() {
        return layerRopeBase.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ArchitectureTraits t
                && rope == t.rope
                && qkvBias == t.qkvBias
                && qkNorm == t.qkNorm
                && postNorms == t.postNorms
                && Float.compare(embeddingScale, t.embeddingScale) == 0
                && activation == t.activation
                && Float.compare(attnLogitSoftcap, t.attnLogitSoftcap) == 0
                && Float.compare(finalLogitSoftcap, t.finalLogitSoftcap) == 0
                && Float.compare(queryScale, t.queryScale) == 0
                && Float.compare(scoreScale, t.scoreScale) == 0
                && fusedQkv == t.fusedQkv
                && fusedGateUp == t.fusedGateUp
                && Arrays.equals(layerWindow, t.layerWindow)
                && Arrays.equals(layerRopeBase, t.layerRopeBase)
                && Arrays.equals(layerRopeScale, t.layerRopeScale);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(
                        rope,
                        qkvBias,
                        qkNorm,
                        postNorms,
                        embeddingScale,
                        activation,
                        attnLogitSoftcap,
                        finalLogitSoftcap,
                        queryScale,
                        scoreScale,
                        fusedQkv,
                        fusedGateUp)
                + 31 * Arrays.hashCode(layerWindow)
                + 17 * Arrays.hashCode(layerRopeBase)
                + 7 * Arrays.hashCode(layerRopeScale);
    }

    @Override
    public String toString() {
        return "ArchitectureTraits[rope=" + rope + ", qkvBias=" + qkvBias + ", qkNorm=" + qkNorm + ", postNorms="
                + postNorms + ", embeddingScale=" + embeddingScale + ", activation=" + activation
                + ", attnLogitSoftcap=" + attnLogitSoftcap + ", finalLogitSoftcap=" + finalLogitSoftcap
                + ", queryScale=" + queryScale + ", scoreScale=" + scoreScale + ", fusedQkv=" + fusedQkv
                + ", fusedGateUp=" + fusedGateUp + ", layerWindow=" + Arrays.toString(layerWindow)
                + ", layerRopeBase=" + Arrays.toString(layerRopeBase) + ", layerRopeScale="
                + Arrays.toString(layerRopeScale) + "]";
    }
}
