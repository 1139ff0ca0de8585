package dev.anvil.registry.domain;

import jakarta.persistence.Column;
import jakarta.persistence.Convert;
import jakarta.persistence.Embeddable;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The file behind a model version, as measured when it was registered: where it lies, its format, the
 * SHA-256 and size of its bytes, and what its header says about the network. Immutable once recorded,
 * so a later swap of the file on disk can be detected by hashing it again.
 */
@Embeddable
public class Artifact {

    public static final int MAX_PATH = 1024;
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

    @Column(name = "artifact_path", nullable = false, length = MAX_PATH, updatable = false)
    private String path;

    @Convert(converter = ArtifactFormatConverter.class)
    @Column(name = "artifact_format", nullable = false, length = 16, updatable = false)
    private ArtifactFormat format;

    @Column(name = "sha256", nullable = false, length = 64, updatable = false)
    private String sha256;

    @Column(name = "size_bytes", nullable = false, updatable = false)
    private long sizeBytes;

    @Column(name = "architecture", nullable = false, length = 64, updatable = false)
    private String architecture;

    @Column(name = "quantization", nullable = false, length = 32, updatable = false)
    private String quantization;

    @Column(name = "parameter_count", nullable = false, updatable = false)
    private long parameterCount;

    protected Artifact() {
        // for JPA
    }

    public Artifact(
            String path,
            ArtifactFormat format,
            String sha256,
            long sizeBytes,
            String architecture,
            String quantization,
            long parameterCount) {
        if (path == null || path.isBlank())
            throw new InvalidRegistryFieldException("path", "artifact path is required");
        if (path.length() > MAX_PATH)
            throw new InvalidRegistryFieldException("path", "artifact path is longer than " + MAX_PATH + " characters");
        if (sha256 == null || !SHA256_HEX.matcher(sha256).matches()) {
            throw new InvalidRegistryFieldException(
                    "sha256", "sha256 must be 64 lowercase hexadecimal characters, got '" + sha256 + "'");
        }
        if (sizeBytes < 0) throw new InvalidRegistryFieldException("size", "artifact size must not be negative");
        if (parameterCount < 0)
            throw new InvalidRegistryFieldException("parameterCount", "parameter count must not be negative");
        this.path = path;
        this.format = Objects.requireNonNull(format, "format");
        this.sha256 = sha256;
        this.sizeBytes = sizeBytes;
        this.architecture = requireLabel("architecture", architecture, 64);
        this.quantization = requireLabel("quantization", quantization, 32);
        this.parameterCount = parameterCount;
    }

    private static String requireLabel(String field, String value, int max) {
        if (value == null || value.isBlank()) throw new InvalidRegistryFieldException(field, field + " is required");
        if (value.length() > max)
            throw new InvalidRegistryFieldException(
                    field, field + " '" + value + "' is longer than " + max + " characters");
        return value;
    }

    /** Normalises a client-given checksum (hex, either case) to the stored lowercase form, or rejects it. */
    public static String normalizeSha256(String hex) {
        String lower = hex.strip().toLowerCase(java.util.Locale.ROOT);
        if (!SHA256_HEX.matcher(lower).matches()) {
            throw new InvalidRegistryFieldException(
                    "sha256", "sha256 must be 64 hexadecimal characters, got '" + hex + "'");
        }
        return lower;
    }

    public String path() {
        return path;
    }

    public ArtifactFormat format() {
        return format;
    }

    public String sha256() {
        return sha256;
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    public String architecture() {
        return architecture;
    }

    public String quantization() {
        return quantization;
    }

    public long parameterCount() {
        return parameterCount;
    }
}
