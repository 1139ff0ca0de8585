package dev.anvil.api.registry;

import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** Body of {@code POST /api/registry/models/{name}/versions/{version}/stage}. */
@Schema(
        name = "StageChangeRequest",
        description =
                "Moves a version to another stage. Allowed: NONE to STAGING, PRODUCTION "
                        + "or ARCHIVED; STAGING to PRODUCTION, ARCHIVED or NONE; PRODUCTION to ARCHIVED or STAGING; ARCHIVED to STAGING")
public record StageChangeRequest(
        @Schema(
                required = true,
                type = SchemaType.STRING,
                enumeration = {"NONE", "STAGING", "PRODUCTION", "ARCHIVED"})
        String stage,

        @Schema(description = "Why; recorded in the history")
        String reason) {}
