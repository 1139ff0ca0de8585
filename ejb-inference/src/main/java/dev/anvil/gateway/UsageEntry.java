package dev.anvil.gateway;

import java.math.BigDecimal;
import java.time.Instant;

/**
 * One generation request's usage row ({@code gateway_usage}).
 *
 * @param tenant   null for an anonymous request (keys not required)
 * @param apiKeyId null for an anonymous request
 * @param outcome  {@code ok}, {@code error} or {@code cancelled}
 * @param subjectSha256 for an anonymous request, the SHA-256 of the subject that received the response
 *                 ({@link Recipient}); null for a keyed one
 * @param traceId  the request's OpenTelemetry trace id, or null when tracing is off
 */
public record UsageEntry(
        Instant occurredAt,
        String requestId,
        String tenant,
        Long apiKeyId,
        String keyPrefix,
        String model,
        String modelVersion,
        String endpoint,
        int promptTokens,
        int completionTokens,
        BigDecimal cost,
        long latencyMs,
        String outcome,
        String subjectSha256,
        String traceId) {}
