package dev.anvil.api.registry;

import dev.anvil.registry.VersionEventInfo;
import jakarta.json.bind.annotation.JsonbPropertyOrder;
import java.time.Instant;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** An event of a version's history that is not a stage change. */
@Schema(
        name = "RegistryVersionEvent",
        description = "Drift detected or cleared on a version, or its drift reference pinned")
@JsonbPropertyOrder({"model", "version", "kind", "actor", "at", "detail"})
public record VersionEventJson(
        @Schema(required = true) String model,
        @Schema(required = true) String version,

        @Schema(
                required = true,
                type = SchemaType.STRING,
                enumeration = {"DRIFT_DETECTED", "DRIFT_CLEARED", "DRIFT_REFERENCE_PINNED"})
        String kind,

        @Schema(required = true, description = "anvil-drift for what the server detected, else the operator")
        String actor,

        @Schema(required = true, format = "date-time") Instant at,
        @Schema(required = true) String detail) {

    static VersionEventJson of(VersionEventInfo e) {
        return new VersionEventJson(e.model(), e.version(), e.kind(), e.actor(), e.at(), e.detail());
    }
}
