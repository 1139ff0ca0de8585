package dev.anvil.serving;

/** Why one choice of a generation ended. */
public enum FinishReason {
    /** The model produced an end-of-generation token, or the text reached a stop string. */
    STOP("stop"),
    /** {@code maxTokens} tokens were generated. */
    LENGTH("length"),
    /** The client cancelled ({@link GenerationHandle#cancel()}), e.g. because it disconnected. */
    CANCELLED("cancelled"),
    /** An output guardrail withheld the text (OpenAI's name for filtered output). */
    CONTENT_FILTER("content_filter");

    private final String openAiName;

    FinishReason(String openAiName) {
        this.openAiName = openAiName;
    }

    /** The OpenAI {@code finish_reason} string: "stop", "length" (and "cancelled", which OpenAI never sends). */
    public String openAiName() {
        return openAiName;
    }
}
