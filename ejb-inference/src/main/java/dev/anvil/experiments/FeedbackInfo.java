package dev.anvil.experiments;

import java.time.Instant;

/** Stored feedback, with the experiment and variant whose outcome it rates (both null when the response was in none). */
public record FeedbackInfo(
        long id,
        String responseId,
        String scale,
        int rating,
        boolean negative,
        String comment,
        Instant createdAt,
        String experiment,
        String variant) {}
