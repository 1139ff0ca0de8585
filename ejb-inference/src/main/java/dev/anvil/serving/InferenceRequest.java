package dev.anvil.serving;

import dev.anvil.engine.GrammarConstraint;
import dev.anvil.engine.SamplingParams;
import dev.anvil.engine.SequenceRequest;
import java.util.List;

/**
 * One generation request, already tokenized by the API layer (which also applied any chat template).
 *
 * @param model        model reference: {@code "name"} (its PRODUCTION version) or {@code "name@version"}
 * @param promptTokens prompt token ids (BOS included if the model wants one), at least one
 * @param sampling     sampling settings; its {@code topLogprobs} is overridden by {@code logprobs}. With
 *                     {@code n > 1}, choice {@code i} samples with seed {@code sampling.seed() + i}
 * @param maxTokens    most tokens to generate per choice; null = as many as the context leaves after the prompt
 * @param stop         stop strings (null or empty: none)
 * @param n            number of choices (sequences) to generate, 1..{@link ServingConfig} {@code anvil.serving.max-n}
 * @param logprobs     null = no logprobs; k >= 0 = report each token's logprob and the k most likely alternatives (k <= 20)
 * @param requestId    an id for logs and results (e.g. "chatcmpl-..."); null = one is generated
 * @param priority     LOW for shadow copies nobody waits for (admitted only with spare capacity, preempted first);
 *                     null = NORMAL
 * @param grammar      the grammar every choice's output must follow (constrained decoding: {@code response_format}
 *                     JSON, the {@code grammar} extension, tool calls),
 *                     or null
 */
public record InferenceRequest(
        String model,
        int[] promptTokens,
        SamplingParams sampling,
        Integer maxTokens,
        List<String> stop,
        int n,
        Integer logprobs,
        String requestId,
        SequenceRequest.Priority priority,
        GrammarConstraint grammar) {

    /** Without a grammar. */
    public InferenceRequest(
            String model,
            int[] promptTokens,
            SamplingParams sampling,
            Integer maxTokens,
            List<String> stop,
            int n,
            Integer logprobs,
            String requestId,
            SequenceRequest.Priority priority) {
        this(model, promptTokens, sampling, maxTokens, stop, n, logprobs, requestId, priority, null);
    }

    /** A NORMAL-priority request. */
    public InferenceRequest(
            String model,
            int[] promptTokens,
            SamplingParams sampling,
            Integer maxTokens,
            List<String> stop,
            int n,
            Integer logprobs,
            String requestId) {
        this(
                model,
                promptTokens,
                sampling,
                maxTokens,
                stop,
                n,
                logprobs,
                requestId,
                SequenceRequest.Priority.NORMAL,
                null);
    }

    /** A single-choice request without logprobs. */
    public static InferenceRequest of(
            String model, int[] promptTokens, SamplingParams sampling, Integer maxTokens, List<String> stop) {
        return new InferenceRequest(model, promptTokens, sampling, maxTokens, stop, 1, null, null);
    }
}
