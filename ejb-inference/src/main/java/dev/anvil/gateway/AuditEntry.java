package dev.anvil.gateway;

import java.time.Instant;

/**
 * One row of the append-only {@code gateway_audit} table: who did what, when, with which result.
 * {@code requestText}/{@code responseText} are only set for tenants with audit-text enabled; {@code traceId} is the
 * request's OpenTelemetry trace id (null when tracing is off, or for what is not a request).
 */
public record AuditEntry(
        Instant occurredAt,
        String actor,
        String tenant,
        String action,
        String target,
        Integer status,
        String detail,
        String requestText,
        String responseText,
        String traceId) {}
