package dev.anvil.experiments.domain;

/**
 * Limits a variant must stay within; any limit may be absent. {@code minimumSample} is the number of outcomes
 * each variant needs before any verdict or guardrail breach is reported (fewer is noise).
 */
public record Guardrails(Double maxErrorRate, Long maxP95LatencyMs, Double maxNegativeFeedbackRate, int minimumSample) {

    public static final int DEFAULT_MINIMUM_SAMPLE = 100;

    public Guardrails {
        if (maxErrorRate != null && !(maxErrorRate >= 0 && maxErrorRate <= 1)) {
            throw new InvalidExperimentException(
                    "maxErrorRate", "maxErrorRate must be a fraction between 0 and 1, got " + maxErrorRate);
        }
        if (maxNegativeFeedbackRate != null && !(maxNegativeFeedbackRate >= 0 && maxNegativeFeedbackRate <= 1)) {
            throw new InvalidExperimentException(
                    "maxNegativeFeedbackRate",
                    "maxNegativeFeedbackRate must be a fraction between 0 and 1, got " + maxNegativeFeedbackRate);
        }
        if (maxP95LatencyMs != null && maxP95LatencyMs <= 0) {
            throw new InvalidExperimentException(
                    "maxP95LatencyMs", "maxP95LatencyMs must be positive, got " + maxP95LatencyMs);
        }
        if (minimumSample < 1) {
            throw new InvalidExperimentException(
                    "minimumSample", "minimumSample must be at least 1, got " + minimumSample);
        }
    }
}
