package dev.anvil.api.registry;

import dev.anvil.registry.ModelVersionInfo;
import jakarta.json.bind.annotation.JsonbNillable;
import jakarta.json.bind.annotation.JsonbPropertyOrder;
import java.time.Instant;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** A model version with the facts the server measured about its file at registration. */
@Schema(name = "RegistryModelVersion", description = "One registered version of a model")
@JsonbNillable // absent values are written as null, so every documented key is always present
@JsonbPropertyOrder({
    "model",
    "version",
    "description",
    "stage",
    "path",
    "format",
    "sha256",
    "sizeBytes",
    "architecture",
    "quantization",
    "parameterCount",
    "createdAt",
    "createdBy",
    "promotedAt",
    "promotedBy"
})
public record ModelVersionJson(
        @Schema(required = true) String model,

        @Schema(required = true, description = "Semantic version (semver.org 2.0.0)", examples = "1.0.0")
        String version,

        @Schema(nullable = true) String description,

        @Schema(
                required = true,
                type = SchemaType.STRING,
                enumeration = {"NONE", "STAGING", "PRODUCTION", "ARCHIVED"})
        String stage,

        @Schema(required = true, description = "Absolute path of the model file on the server")
        String path,

        @Schema(
                required = true,
                type = SchemaType.STRING,
                enumeration = {"GGUF", "LLAMA2C"})
        String format,

        @Schema(
                required = true,
                description = "SHA-256 of the file, lowercase hex, computed by the server at registration",
                pattern = "^[0-9a-f]{64}$")
        String sha256,

        @Schema(required = true, description = "File size in bytes")
        long sizeBytes,

        @Schema(required = true, description = "general.architecture from the file header", examples = "llama")
        String architecture,

        @Schema(
                required = true,
                description = "Quantization, from general.file_type or the dominant tensor type",
                examples = "Q8_0")
        String quantization,

        @Schema(required = true, description = "Number of parameters (sum of tensor element counts)")
        long parameterCount,

        @Schema(required = true, format = "date-time") Instant createdAt,
        @Schema(required = true) String createdBy,

        @Schema(nullable = true, format = "date-time", description = "Last promotion to STAGING or PRODUCTION")
        Instant promotedAt,

        @Schema(nullable = true) String promotedBy) {

    static ModelVersionJson of(ModelVersionInfo v) {
        return new ModelVersionJson(
                v.model(),
                v.version(),
                v.description(),
                v.stage().name(),
                v.path(),
                v.format().name(),
                v.sha256(),
                v.sizeBytes(),
                v.architecture(),
                v.quantization(),
                v.parameterCount(),
                v.createdAt(),
                v.createdBy(),
                v.promotedAt(),
                v.promotedBy());
    }
}
