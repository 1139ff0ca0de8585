package dev.anvil.experiments;

import java.time.Instant;

/** A recorded outcome. */
public record OutcomeInfo(
        long id,
        String experiment,
        String variant,
        String responseId,
        long latencyMs,
        Long ttftMs,
        int promptTokens,
        int completionTokens,
        boolean error,
        double cost,
        Instant createdAt) {}
