package dev.anvil.drift;

import java.util.List;

/**
 * What drift detection watches in a version's traffic: numeric features are binned at the reference's quantiles,
 * categorical ones by category ({@link DriftStatistics}).
 */
public enum DriftFeature {
    /** Prompt tokens of a request (all prompts of a batched completion together). */
    PROMPT_TOKENS("prompt_tokens", null),
    /** Generated tokens of the request's first choice. */
    COMPLETION_TOKENS("completion_tokens", null),
    /** Submission to last token, milliseconds. */
    LATENCY("latency_ms", null),
    /** Submission to first token, milliseconds (requests that generated nothing have none). */
    TIME_TO_FIRST_TOKEN("ttft_ms", null),
    /**
     * Mean log-probability of the first choice's sampled tokens under the model's own distribution: the model's
     * confidence in what it said (falls when traffic moves to what it knows less about). Known only for requests that
     * ask for log-probabilities (the sampler computes them for those alone), so it watches that traffic.
     */
    MEAN_LOGPROB("mean_logprob", null),
    /** Why the first choice ended. */
    FINISH_REASON("finish_reason", List.of("stop", "length", "content_filter", "cancelled", "tool_calls")),
    /** Whether a guardrail found something in the request or its answer (the text passed, was redacted or withheld). */
    GUARDRAIL("guardrail", List.of("clean", "flagged", "withheld")),
    /** Ratings sent for the version's responses ({@code POST /v1/feedback}), as negative or not. */
    FEEDBACK("feedback", List.of("positive", "negative")),
    /**
     * Where prompts lie in an embedding model's space ({@code anvil.drift.embedding-model}): each prompt's cosine
     * similarity to the centroid of the reference window's prompt embeddings, so a move of the traffic to other topics
     * shows as a shift of that similarity's distribution (lower, or spread out).
     */
    PROMPT_EMBEDDING("prompt_embedding", null);

    private final String wireName;
    private final List<String> categories;

    DriftFeature(String wireName, List<String> categories) {
        this.wireName = wireName;
        this.categories = categories;
    }

    public String wireName() {
        return wireName;
    }

    /** The categories of a categorical feature, null for a numeric one. */
    public List<String> categories() {
        return categories;
    }

    public boolean numeric() {
        return categories == null;
    }

    public int category(String value) {
        int i = categories.indexOf(value);
        if (i < 0) throw new IllegalArgumentException(wireName + ": unknown category " + value);
        return i;
    }

    public static DriftFeature parse(String wireName) {
        for (DriftFeature f : values()) if (f.wireName.equals(wireName)) return f;
        return null;
    }
}
