package dev.anvil.batch.domain;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * A file of the Batch API: an uploaded input (purpose {@code batch}) or a batch's output or error file (purpose
 * {@code batch_output}). Its lines are rows of {@code batch_file_line}; this row holds what {@code GET /v1/files/{id}}
 * answers. The owner is the API key that uploaded it (or whose batch wrote it); null for an anonymous caller.
 */
@Entity
@Table(name = "batch_file")
public class BatchFile {

    public static final String PURPOSE_INPUT = "batch";
    public static final String PURPOSE_OUTPUT = "batch_output";
    public static final int MAX_FILENAME = 255;

    @Id
    @Column(name = "id", length = 40, updatable = false)
    private String id;

    @Column(name = "owner_key_id", updatable = false)
    private Long ownerKeyId;

    @Column(name = "owner_tenant", length = 64, updatable = false)
    private String ownerTenant;

    @Column(name = "purpose", nullable = false, length = 16, updatable = false)
    private String purpose;

    @Column(name = "filename", nullable = false, length = MAX_FILENAME, updatable = false)
    private String filename;

    @Column(name = "bytes", nullable = false)
    private long bytes;

    @Column(name = "line_count", nullable = false)
    private int lineCount;

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    protected BatchFile() {}

    public BatchFile(
            String id, Long ownerKeyId, String ownerTenant, String purpose, String filename, long bytes, int lines) {
        if (!PURPOSE_INPUT.equals(purpose) && !PURPOSE_OUTPUT.equals(purpose)) {
            throw new IllegalArgumentException("purpose must be batch or batch_output, got " + purpose);
        }
        if (filename == null || filename.isBlank() || filename.length() > MAX_FILENAME || filename.indexOf(0) >= 0) {
            throw new IllegalArgumentException("a file name is 1 to " + MAX_FILENAME + " characters without NUL");
        }
        this.id = id;
        this.ownerKeyId = ownerKeyId;
        this.ownerTenant = ownerTenant;
        this.purpose = purpose;
        this.filename = filename;
        this.bytes = bytes;
        this.lineCount = lines;
        this.createdAt = Instant.now().truncatedTo(ChronoUnit.MICROS);
    }

    public String id() {
        return id;
    }

    public Long ownerKeyId() {
        return ownerKeyId;
    }

    public String ownerTenant() {
        return ownerTenant;
    }

    public String purpose() {
        return purpose;
    }

    public String filename() {
        return filename;
    }

    public long bytes() {
        return bytes;
    }

    public int lineCount() {
        return lineCount;
    }

    public Instant createdAt() {
        return createdAt;
    }

    /** Whether the caller with this key (null: anonymous) owns the file. */
    public boolean ownedBy(Long keyId) {
        return java.util.Objects.equals(ownerKeyId, keyId);
    }
}
