package dev.anvil.engine;

/**
 * How a sequence ended.
 *
 * @param reason          why generation ended, or null when it was cancelled before finishing
 * @param promptTokens    tokens of the prompt
 * @param generatedTokens tokens generated (an end-of-sequence token included)
 * @param text            the complete generated text
 * @param preemptions     how often the sequence was preempted and recomputed
 * @param cachedTokens    prompt tokens found in the prefix cache when it was admitted (not computed); 0 when it
 *                        never was
 */
public record SequenceOutcome(
        Generation.FinishReason reason,
        int promptTokens,
        int generatedTokens,
        String text,
        int preemptions,
        int cachedTokens) {
    public SequenceOutcome {
        cachedTokens = Math.max(0, cachedTokens);
    }

    public boolean cancelled() {
        return reason == null;
    }
}
