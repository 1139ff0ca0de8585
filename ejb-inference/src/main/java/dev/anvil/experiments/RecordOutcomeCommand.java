package dev.anvil.experiments;

/** One served response's outcome, as the request path (or an external gateway) reports it. */
public record RecordOutcomeCommand(
        String responseId,
        String variant,
        Long latencyMs,
        Long ttftMs,
        Integer promptTokens,
        Integer completionTokens,
        Boolean error,
        Double cost) {}
