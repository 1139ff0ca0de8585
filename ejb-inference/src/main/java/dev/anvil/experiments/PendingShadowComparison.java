package dev.anvil.experiments;

import java.time.Instant;

/** A shadow variant's answer compared with the control's, waiting to be written in a batch. */
public record PendingShadowComparison(
        long shadowVariantId,
        String responseId,
        long controlLatencyMs,
        long shadowLatencyMs,
        int controlCompletionTokens,
        int shadowCompletionTokens,
        int controlChars,
        int shadowChars,
        boolean outputsAgree,
        double similarity,
        boolean shadowError,
        Instant at) {}
