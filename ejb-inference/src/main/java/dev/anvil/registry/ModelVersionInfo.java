package dev.anvil.registry;

import dev.anvil.registry.domain.Artifact;
import dev.anvil.registry.domain.ArtifactFormat;
import dev.anvil.registry.domain.ModelVersion;
import dev.anvil.registry.domain.Stage;
import java.time.Instant;

/** A snapshot of one model version, with the facts recorded about its artifact at registration. */
public record ModelVersionInfo(
        String model,
        String version,
        String description,
        String path,
        ArtifactFormat format,
        String sha256,
        long sizeBytes,
        String architecture,
        String quantization,
        long parameterCount,
        Stage stage,
        Instant createdAt,
        String createdBy,
        Instant promotedAt,
        String promotedBy) {

    static ModelVersionInfo of(ModelVersion v) {
        Artifact a = v.artifact();
        return new ModelVersionInfo(
                v.model().name(),
                v.version().toString(),
                v.description(),
                a.path(),
                a.format(),
                a.sha256(),
                a.sizeBytes(),
                a.architecture(),
                a.quantization(),
                a.parameterCount(),
                v.stage(),
                v.createdAt(),
                v.createdBy(),
                v.promotedAt(),
                v.promotedBy());
    }
}
