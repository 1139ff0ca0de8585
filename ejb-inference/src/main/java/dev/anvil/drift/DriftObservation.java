package dev.anvil.drift;

/**
 * The features of one finished request, as drift detection reads them.
 *
 * @param ttftMs       null when the request generated no token
 * @param meanLogprob  NaN when the first choice sampled no token
 * @param finishReason a category of {@link DriftFeature#FINISH_REASON}
 * @param guardrail    a category of {@link DriftFeature#GUARDRAIL}
 */
public record DriftObservation(
        int promptTokens,
        int completionTokens,
        long latencyMs,
        Long ttftMs,
        double meanLogprob,
        String finishReason,
        String guardrail) {}
