package dev.anvil.engine;

/**
 * How the next token is chosen from the logits. Defaults ({@link #DEFAULTS}) are plain sampling at
 * temperature 1 with no filtering; {@link #GREEDY} always takes the most likely token.
 *
 * @param temperature       divides the logits; {@code <= 0} means greedy (argmax)
 * @param topK              keep the k most likely tokens; 0 = off
 * @param topP              keep the smallest set of most likely tokens whose probability reaches p; 1 = off
 * @param minP              drop tokens less likely than {@code minP * p(most likely)}; 0 = off
 * @param repetitionPenalty CTRL-style: a recent token's logit is divided by it when positive, multiplied when
 *                          negative; 1 = off
 * @param frequencyPenalty  subtracted from a recent token's logit once per occurrence (OpenAI semantics); 0 = off
 * @param presencePenalty   subtracted once from the logit of any recent token; 0 = off
 * @param penaltyLastN      how many of the most recent tokens (prompt included) the three penalties look at;
 *                          -1 = all of them
 * @param seed              random seed; the same seed and request give the same tokens, whatever else is batched
 * @param topLogprobs       how many most likely alternatives to report with each token: 0 = only the chosen
 *                          token's log-probability, -1 = no log-probabilities at all (the sampler then skips the
 *                          normalization over the vocabulary; the sampled token's logprob is NaN)
 */
public record SamplingParams(
        float temperature,
        int topK,
        float topP,
        float minP,
        float repetitionPenalty,
        float frequencyPenalty,
        float presencePenalty,
        int penaltyLastN,
        long seed,
        int topLogprobs) {

    public static final SamplingParams DEFAULTS = new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, 64, 0L, -1);
    public static final SamplingParams GREEDY = DEFAULTS.withTemperature(0f);

    public SamplingParams {
        if (Float.isNaN(temperature)) throw new IllegalArgumentException("temperature is NaN");
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0, was " + topK);
        if (!(topP > 0f && topP <= 1f)) throw new IllegalArgumentException("top_p must be in (0, 1], was " + topP);
        if (!(minP >= 0f && minP <= 1f)) throw new IllegalArgumentException("min_p must be in [0, 1], was " + minP);
        if (!(repetitionPenalty > 0f))
            throw new IllegalArgumentException("repetition_penalty must be > 0, was " + repetitionPenalty);
        if (!Float.isFinite(frequencyPenalty) || !Float.isFinite(presencePenalty))
            throw new IllegalArgumentException("penalties must be finite");
        if (penaltyLastN < -1) throw new IllegalArgumentException("penalty_last_n must be >= -1, was " + penaltyLastN);
        if (topLogprobs < -1 || topLogprobs > 100)
            throw new IllegalArgumentException("top_logprobs must be in [-1, 100], was " + topLogprobs);
    }

    public boolean greedy() {
        return temperature <= 0f;
    }

    public SamplingParams withTemperature(float v) {
        return new SamplingParams(
                v,
                topK,
                topP,
                minP,
                repetitionPenalty,
                frequencyPenalty,
                presencePenalty,
                penaltyLastN,
                seed,
                topLogprobs);
    }

    public SamplingParams withTopK(int v) {
        return new SamplingParams(
                temperature,
                v,
                topP,
                minP,
                repetitionPenalty,
                frequencyPenalty,
                presencePenalty,
                penaltyLastN,
                seed,
                topLogprobs);
    }

    public SamplingParams withTopP(float v) {
        return new SamplingParams(
                temperature,
                topK,
                v,
                minP,
                repetitionPenalty,
                frequencyPenalty,
                presencePenalty,
                penaltyLastN,
                seed,
                topLogprobs);
    }

    public SamplingParams withMinP(float v) {
        return new SamplingParams(
                temperature,
                topK,
                topP,
                v,
                repetitionPenalty,
                frequencyPenalty,
                presencePenalty,
                penaltyLastN,
                seed,
                topLogprobs);
    }

    public SamplingParams withRepetitionPenalty(float v) {
        return new SamplingParams(
                temperature, topK, topP, minP, v, frequencyPenalty, presencePenalty, penaltyLastN, seed, topLogprobs);
    }

    public SamplingParams withFrequencyPenalty(float v) {
        return new SamplingParams(
                temperature, topK, topP, minP, repetitionPenalty, v, presencePenalty, penaltyLastN, seed, topLogprobs);
    }

    public SamplingParams withPresencePenalty(float v) {
        return new SamplingParams(
                temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, v, penaltyLastN, seed, topLogprobs);
    }

    public SamplingParams withPenaltyLastN(int v) {
        return new SamplingParams(
                temperature,
                topK,
                topP,
                minP,
                repetitionPenalty,
                frequencyPenalty,
                presencePenalty,
                v,
                seed,
                topLogprobs);
    }

    public SamplingParams withSeed(long v) {
        return new SamplingParams(
                temperature,
                topK,
                topP,
                minP,
                repetitionPenalty,
                frequencyPenalty,
                presencePenalty,
                penaltyLastN,
                v,
                topLogprobs);
    }

    public SamplingParams withTopLogprobs(int v) {
        return new SamplingParams(
                temperature,
                topK,
                topP,
                minP,
                repetitionPenalty,
                frequencyPenalty,
                presencePenalty,
                penaltyLastN,
                seed,
                v);
    }
}
