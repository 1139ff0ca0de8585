package dev.anvil.engine;

/**
 * How a sequence ended.
 *
 * @param reason          why generation ended, or null when it was cancelled before finishing
 * @param promptTokens    tokens of the prompt
 * @param generatedTokens tokens generated (an end-of-sequence token included)
 * @param text            the complete generated text
 * @param preemptions     how often the sequence was preempted and recomputed
 */
public record SequenceOutcome(
        Generation.FinishReason reason, int promptTokens, int generatedTokens, String text, int preemptions) {
    public boolean cancelled() {
        return reason == null;
    }
}
