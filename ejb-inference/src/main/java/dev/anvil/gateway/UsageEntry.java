package dev.anvil.gateway;

import java.math.BigDecimal;
import java.time.Instant;

/**
 * One generation request's usage row ({@code gateway_usage}).
 *
 * @param tenant   null for an anonymous request (keys not required)
 * @param apiKeyId null for an anonymous request
 * @param outcome  {@code ok}, {@code error} or {@code cancelled}
 */
public record UsageEntry(Instant occurredAt, String requestId, String tenant, Long apiKeyId, String keyPrefix,
                         String model, String modelVersion, String endpoint, int promptTokens, int completionTokens,
                         BigDecimal cost, long latencyMs, String outcome) {
}
