package dev.anvil.api.registry;

import dev.anvil.registry.TransitionInfo;
import jakarta.json.bind.annotation.JsonbNillable;
import jakarta.json.bind.annotation.JsonbPropertyOrder;
import java.time.Instant;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** One entry of the stage history; {@code from} is null for the registration itself. */
@Schema(
        name = "RegistryStageTransition",
        description = "A stage change of a model version: who, when, from, to and why")
@JsonbNillable
@JsonbPropertyOrder({"model", "version", "from", "to", "actor", "at", "reason"})
public record TransitionJson(
        @Schema(required = true) String model,
        @Schema(required = true) String version,

        @Schema(
                nullable = true,
                type = SchemaType.STRING,
                enumeration = {"NONE", "STAGING", "PRODUCTION", "ARCHIVED"},
                description = "Stage before the change; null for the registration")
        String from,

        @Schema(
                required = true,
                type = SchemaType.STRING,
                enumeration = {"NONE", "STAGING", "PRODUCTION", "ARCHIVED"})
        String to,

        @Schema(required = true, description = "Who made the change")
        String actor,

        @Schema(required = true, format = "date-time") Instant at,
        @Schema(nullable = true) String reason) {

    static TransitionJson of(TransitionInfo t) {
        return new TransitionJson(
                t.model(),
                t.version(),
                t.from() == null ? null : t.from().name(),
                t.to().name(),
                t.actor(),
                t.at(),
                t.reason());
    }
}
