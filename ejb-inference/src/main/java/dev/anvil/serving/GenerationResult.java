package dev.anvil.serving;

import java.util.List;

/** The final outcome of a request: one {@link Choice} per sequence ({@code n} of them), index order. */
public record GenerationResult(String requestId, ServedModel model, List<Choice> choices, Usage usage) {

    /**
     * @param text     the generated text (stop string excluded)
     * @param tokens   the generated token ids (an end-of-sequence token included)
     * @param logprobs one entry per emitted token when logprobs were requested, else null
     */
    public record Choice(
            int index, String text, int[] tokens, FinishReason finishReason, List<TokenLogprob> logprobs) {}
}
