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
 * @param route    how a cost-aware router chose the model, or null when the request named a model
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
        String traceId,
        Route route) {

    /**
     * A routed request's part of its usage row (columns of V9).
     *
     * @param attempt      1, or 2 for a cascade's escalation
     * @param baselineCost what the tokens would have cost on the router's largest candidate (0 on an escalation)
     */
    public record Route(String router, String reason, int attempt, BigDecimal baselineCost) {}

    /** A request no router chose. */
    public UsageEntry(
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
            String traceId) {
        this(
                occurredAt,
                requestId,
                tenant,
                apiKeyId,
                keyPrefix,
                model,
                modelVersion,
                endpoint,
                promptTokens,
                completionTokens,
                cost,
                latencyMs,
                outcome,
                subjectSha256,
                traceId,
                null);
    }
}
