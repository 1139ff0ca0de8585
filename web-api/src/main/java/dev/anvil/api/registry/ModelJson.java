package dev.anvil.api.registry;

import dev.anvil.registry.ModelInfo;
import jakarta.json.bind.annotation.JsonbNillable;
import jakarta.json.bind.annotation.JsonbPropertyOrder;
import java.time.Instant;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** A registered model as the API shows it. */
@Schema(name = "RegistryModel", description = "A named model in the registry, parent of its versions")
@JsonbNillable // absent values are written as null, so every documented key is always present
@JsonbPropertyOrder({
    "name",
    "description",
    "owner",
    "tags",
    "createdAt",
    "createdBy",
    "versionCount",
    "productionVersion"
})
public record ModelJson(
        @Schema(required = true, examples = "stories-260k") String name,
        @Schema(nullable = true) String description,

        @Schema(required = true, description = "Who is responsible for the model")
        String owner,

        @Schema(required = true) List<String> tags,
        @Schema(required = true, format = "date-time") Instant createdAt,
        @Schema(required = true) String createdBy,

        @Schema(required = true, description = "Number of registered versions")
        int versionCount,

        @Schema(nullable = true, description = "The version now in PRODUCTION, if any", examples = "1.2.0")
        String productionVersion) {

    static ModelJson of(ModelInfo m) {
        return new ModelJson(
                m.name(),
                m.description(),
                m.owner(),
                m.tags(),
                m.createdAt(),
                m.createdBy(),
                m.versionCount(),
                m.productionVersion());
    }
}
