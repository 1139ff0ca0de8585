package dev.anvil.api.health;

import java.util.List;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** MicroProfile Health wire format: overall status plus one entry per check. */
@Schema(name = "HealthReport", description = "MicroProfile Health response")
public record HealthReport(
        @Schema(
                required = true,
                enumeration = {"UP", "DOWN"})
        String status,

        @Schema(required = true) List<CheckResult> checks) {

    /** One health check's outcome. {@code data} holds check-specific details (latency, versions, errors). */
    @Schema(name = "HealthCheckResult")
    public record CheckResult(
            @Schema(required = true) String name,

            @Schema(
                    required = true,
                    enumeration = {"UP", "DOWN"})
            String status,

            java.util.Map<String, Object> data) {}
}
