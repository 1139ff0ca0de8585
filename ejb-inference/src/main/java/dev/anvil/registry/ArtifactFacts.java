package dev.anvil.registry;

import dev.anvil.registry.domain.Artifact;
import dev.anvil.registry.domain.ArtifactFormat;

/** What the server measured about a model file before registering it. */
public record ArtifactFacts(
        String path,
        ArtifactFormat format,
        String sha256,
        long sizeBytes,
        String architecture,
        String quantization,
        long parameterCount) {

    public Artifact toArtifact() {
        return new Artifact(path, format, sha256, sizeBytes, architecture, quantization, parameterCount);
    }
}
