package dev.anvil.api.registry;

import java.util.List;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** Body of {@code POST /api/registry/models}. */
@Schema(name = "CreateModelRequest", description = "Creates an empty model; versions are added by registration")
public record CreateModelRequest(
        @Schema(required = true, pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", examples = "stories-260k")
        String name,

        String description,

        @Schema(description = "Who is responsible for the model (default: the actor)")
        String owner,

        List<String> tags) {}
