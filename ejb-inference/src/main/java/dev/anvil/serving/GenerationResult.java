package dev.anvil.serving;

import java.util.List;

/** The final outcome of a request: one {@link Choice} per sequence ({@code n} of them), index order. */
public record GenerationResult(String requestId, ServedModel model, List<Choice> choices, Usage usage) {

    /**
     * @param text     the generated text (stop string excluded)
     * @param tokens   the generated token ids (an end-of-sequence token included)
     * @param logprobs one entry per emitted token when logprobs were requested, else null
     * @param meanLogprob the mean log-probability of the emitted tokens under the model's own distribution (the model's
     *                 confidence, which drift detection watches); NaN when it is not known: log-probabilities were not
     *                 requested (the sampler then skips their normalizer), nothing was generated, or the answer was
     *                 replayed from the response cache
     */
    public record Choice(
            int index,
            String text,
            int[] tokens,
            FinishReason finishReason,
            List<TokenLogprob> logprobs,
            double meanLogprob) {

        /** A choice whose tokens' log-probabilities are not known. */
        public Choice(int index, String text, int[] tokens, FinishReason finishReason, List<TokenLogprob> logprobs) {
            this(index, text, tokens, finishReason, logprobs, Double.NaN);
        }
    }
}
