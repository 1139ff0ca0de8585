package dev.anvil.experiments;

import java.time.Instant;

/** An outcome measured on the request path, waiting to be written in a batch (ids: no entity lookups on the path). */
public record PendingOutcome(
        long variantId,
        String responseId,
        long latencyMs,
        Long ttftMs,
        int promptTokens,
        int completionTokens,
        boolean error,
        double cost,
        Instant at) {}
