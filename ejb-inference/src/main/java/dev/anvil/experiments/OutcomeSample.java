package dev.anvil.experiments;

/**
 * One recorded outcome as results need it: which variant served it, its measurements, and its latest feedback
 * ({@code negativeFeedback} null when the response was never rated).
 */
public record OutcomeSample(
        String variant,
        long latencyMs,
        Long ttftMs,
        int promptTokens,
        int completionTokens,
        boolean error,
        double cost,
        Boolean negativeFeedback) {}
