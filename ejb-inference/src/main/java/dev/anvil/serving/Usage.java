package dev.anvil.serving;

/**
 * Token counts of a request. {@code completionTokens} sums over all choices and counts an end-of-sequence
 * token that ended a choice.
 */
public record Usage(int promptTokens, int completionTokens) {
    public int totalTokens() {
        return promptTokens + completionTokens;
    }
}
