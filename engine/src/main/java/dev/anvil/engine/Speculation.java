package dev.anvil.engine;

/**
 * How a {@link Scheduler} speculates (see {@link Speculator}): where draft tokens come from and how many a sequence
 * may propose per step. {@link #NONE} turns speculative decoding off.
 *
 * @param method           {@link Method#NONE}, {@link Method#NGRAM} (prompt lookup) or {@link Method#DRAFT} (a draft
 *                         model given to the scheduler)
 * @param maxDraftTokens   most draft tokens a sequence proposes in one step (k); adaptive below it, 1 to 16
 * @param ngramMin         shortest suffix n-gram prompt lookup matches (1 to {@code ngramMax})
 * @param ngramMax         longest suffix n-gram prompt lookup tries first (at most 16)
 * @param draftKvCacheBytes byte budget of the draft model's own KV cache; 0 = as many blocks as the target's cache
 * @param draftMinProbability a draft model stops drafting for a sequence at the first token it gives less than this
 *                         probability (llama.cpp's {@code --draft-p-min}); 0 drafts all k. A draft unsure of its
 *                         very first token drafts nothing that step, which counts as a miss towards pausing: where the
 *                         draft does not fit the text, the target does not pay for verifying its guesses
 */
public record Speculation(
        Method method,
        int maxDraftTokens,
        int ngramMin,
        int ngramMax,
        long draftKvCacheBytes,
        double draftMinProbability) {

    /** Where drafts come from. */
    public enum Method {
        /** No speculation: one token per sequence and step. */
        NONE,
        /**
         * Prompt lookup (vLLM's {@code ngram}, llama.cpp's lookup decoding): the last n tokens of the sequence, n from
         * {@code ngramMax} down to {@code ngramMin}, are looked up earlier in its prompt and output; the tokens that
         * followed the most recent match are the drafts. Free to compute; pays off where the output repeats the
         * context (extraction, code editing, summaries quoting their source).
         */
        NGRAM,
        /** A smaller model with the target's vocabulary drafts autoregressively on its own KV cache. */
        DRAFT
    }

    /** Largest k accepted: verification computes logits for every drafted position, a vocabulary row each. */
    public static final int MAX_DRAFT_TOKENS = 16;

    /**
     * Default {@link #draftMinProbability}: drafts the draft model is this sure of are usually kept by a target it was
     * distilled with or trained beside, and the ones below it are the guesses that cost a verification each.
     */
    public static final double DEFAULT_DRAFT_MIN_PROBABILITY = 0.75;

    public static final Speculation NONE = new Speculation(Method.NONE, 4, 1, 3, 0, DEFAULT_DRAFT_MIN_PROBABILITY);

    public Speculation {
        if (method == null) throw new IllegalArgumentException("speculation method is null");
        if (maxDraftTokens < 1 || maxDraftTokens > MAX_DRAFT_TOKENS)
            throw new IllegalArgumentException(
                    "max draft tokens must be in [1, " + MAX_DRAFT_TOKENS + "], was " + maxDraftTokens);
        if (ngramMax < 1 || ngramMax > 16)
            throw new IllegalArgumentException("n-gram max must be in [1, 16], was " + ngramMax);
        if (ngramMin < 1 || ngramMin > ngramMax)
            throw new IllegalArgumentException(
                    "n-gram min must be in [1, n-gram max = " + ngramMax + "], was " + ngramMin);
        if (draftKvCacheBytes < 0)
            throw new IllegalArgumentException("draft KV cache budget must be >= 0 bytes, was " + draftKvCacheBytes);
        if (!(draftMinProbability >= 0 && draftMinProbability < 1))
            throw new IllegalArgumentException("draft min probability must be in [0, 1), was " + draftMinProbability);
    }

    /** Prompt lookup with k drafts and n-grams of {@code ngramMin..ngramMax} tokens. */
    public static Speculation ngram(int maxDraftTokens, int ngramMin, int ngramMax) {
        return new Speculation(Method.NGRAM, maxDraftTokens, ngramMin, ngramMax, 0, DEFAULT_DRAFT_MIN_PROBABILITY);
    }

    /** A draft model with k drafts, the default confidence cut-off and a KV cache of as many blocks as the target's. */
    public static Speculation draft(int maxDraftTokens) {
        return draft(maxDraftTokens, DEFAULT_DRAFT_MIN_PROBABILITY);
    }

    /** A draft model with k drafts, stopping at a draft token below {@code minProbability}. */
    public static Speculation draft(int maxDraftTokens, double minProbability) {
        return new Speculation(Method.DRAFT, maxDraftTokens, 1, 3, 0, minProbability);
    }

    public boolean enabled() {
        return method != Method.NONE;
    }
}
