package dev.anvil.registry.domain;

/** On-disk format of a registered model artifact. */
public enum ArtifactFormat {
    /** GGUF v2/v3 (llama.cpp), with metadata and a tensor directory in its header. */
    GGUF,
    /** Karpathy's llama2.c checkpoint: a 7-integer config header followed by float32 weights. */
    LLAMA2C;

    public static ArtifactFormat parse(String name) {
        for (ArtifactFormat f : values()) {
            if (f.name().equalsIgnoreCase(name.trim())) return f;
        }
        throw new InvalidRegistryFieldException("format", "unknown format '" + name + "' (one of GGUF, LLAMA2C)");
    }
}
