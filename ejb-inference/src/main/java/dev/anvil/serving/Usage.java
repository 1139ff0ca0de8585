package dev.anvil.serving;

/**
 * Token counts of a request. {@code completionTokens} sums over all choices and counts an end-of-sequence
 * token that ended a choice. {@code cachedTokens}: prompt tokens whose keys and values came from the engine's prefix
 * cache instead of being computed (with several choices, what every choice found; OpenAI's
 * {@code prompt_tokens_details.cached_tokens}).
 */
public record Usage(int promptTokens, int completionTokens, int cachedTokens) {
    /** Nothing from the prefix cache. */
    public Usage(int promptTokens, int completionTokens) {
        this(promptTokens, completionTokens, 0);
    }

    public int totalTokens() {
        return promptTokens + completionTokens;
    }
}
