package dev.anvil.cache;

import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import dev.anvil.serving.TokenLogprob;
import dev.anvil.serving.Usage;
import java.util.ArrayList;
import java.util.List;

/**
 * A finished generation of one API request as the response cache keeps it: per prompt its token counts and
 * choices, each choice as the sequence of deltas the generation emitted (text pieces with their log-probabilities),
 * so that a streamed hit replays the same chunks a live stream would have sent and a plain hit rebuilds the same
 * choices. Only generations whose every choice finished (STOP or LENGTH) are cached.
 *
 * @param prompts one entry per prompt of the request, in order
 */
public record CachedGeneration(List<Prompt> prompts) {

    public CachedGeneration {
        if (prompts == null || prompts.isEmpty())
            throw new IllegalArgumentException("a cached generation has at least one prompt");
        prompts = List.copyOf(prompts);
    }

    /**
     * One prompt's outcome: its prompt token count, tokens generated over all choices, the prompt tokens the prefix
     * cache held when it was generated (replayed as reported: a hit answers what the generation answered), the
     * choices in index order.
     */
    public record Prompt(int promptTokens, int completionTokens, int cachedTokens, List<Choice> choices) {
        public Prompt {
            if (choices == null || choices.isEmpty())
                throw new IllegalArgumentException("a cached prompt has at least one choice");
            choices = List.copyOf(choices);
        }

        /** The generation result this prompt's choices stand for. */
        public GenerationResult toResult(String requestId, ServedModel model, boolean logprobsRequested) {
            List<GenerationResult.Choice> list = new ArrayList<>(choices.size());
            for (Choice c : choices) list.add(c.toChoice(logprobsRequested));
            return new GenerationResult(
                    requestId, model, List.copyOf(list), new Usage(promptTokens, completionTokens, cachedTokens));
        }
    }

    /**
     * One choice.
     *
     * @param index        the choice's index within its prompt
     * @param finishReason STOP or LENGTH
     * @param tokens       the generated token ids
     * @param deltas       what the generation emitted, in order; their texts concatenate to the choice's text
     */
    public record Choice(int index, FinishReason finishReason, int[] tokens, List<Delta> deltas) {
        public Choice {
            if (finishReason == null || finishReason == FinishReason.CANCELLED) {
                throw new IllegalArgumentException("only finished choices are cached, got " + finishReason);
            }
            tokens = tokens.clone();
            deltas = List.copyOf(deltas);
        }

        public String text() {
            StringBuilder sb = new StringBuilder();
            for (Delta d : deltas) sb.append(d.text());
            return sb.toString();
        }

        GenerationResult.Choice toChoice(boolean logprobsRequested) {
            List<TokenLogprob> logprobs = null;
            if (logprobsRequested) {
                logprobs = new ArrayList<>();
                for (Delta d : deltas) if (d.logprob() != null) logprobs.add(d.logprob());
                logprobs = List.copyOf(logprobs);
            }
            return new GenerationResult.Choice(index, text(), tokens.clone(), finishReason, logprobs);
        }
    }

    /** One emitted piece of a choice: text (possibly empty) and its token's log-probability when they were asked for. */
    public record Delta(String text, TokenLogprob logprob) {
        public Delta {
            if (text == null) throw new IllegalArgumentException("delta text is null");
        }
    }

    /** Whether {@code result} may be cached: no choice was cancelled. */
    public static boolean complete(GenerationResult result) {
        return result.choices().stream().noneMatch(c -> c.finishReason() == FinishReason.CANCELLED);
    }
}
