package dev.anvil.batch.domain;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * A batch of the Batch API: the input file's lines run against one endpoint by a Jakarta Batch job, with OpenAI's
 * statuses and counts. The entity owns the lifecycle: {@code validating → in_progress → finalizing → completed}, or
 * {@code failed}, {@code expired} (the completion window passed), {@code cancelling → cancelled}; terminal statuses
 * never change again, and the counts never exceed the total.
 */
@Entity
@Table(name = "batch_job")
public class Batch {

    public static final String VALIDATING = "validating";
    public static final String FAILED = "failed";
    public static final String IN_PROGRESS = "in_progress";
    public static final String FINALIZING = "finalizing";
    public static final String COMPLETED = "completed";
    public static final String EXPIRED = "expired";
    public static final String CANCELLING = "cancelling";
    public static final String CANCELLED = "cancelled";
    /** Endpoints a batch may target, as OpenAI names them. */
    public static final List<String> ENDPOINTS = List.of("/v1/chat/completions", "/v1/completions", "/v1/embeddings");
    /** The one completion window OpenAI offers. */
    public static final String WINDOW_24H = "24h";

    @Id
    @Column(name = "id", length = 40, updatable = false)
    private String id;

    @Column(name = "owner_key_id", updatable = false)
    private Long ownerKeyId;

    @Column(name = "owner_tenant", length = 64, updatable = false)
    private String ownerTenant;

    @Column(name = "endpoint", nullable = false, length = 32, updatable = false)
    private String endpoint;

    @Column(name = "input_file_id", nullable = false, length = 40, updatable = false)
    private String inputFileId;

    @Column(name = "completion_window", nullable = false, length = 8, updatable = false)
    private String completionWindow;

    @Column(name = "status", nullable = false, length = 16)
    private String status;

    @Column(name = "metadata", length = 4000, updatable = false)
    private String metadata;

    @Column(name = "output_file_id", nullable = false, length = 40, updatable = false)
    private String outputFileId;

    @Column(name = "error_file_id", nullable = false, length = 40, updatable = false)
    private String errorFileId;

    @Column(name = "total_count", nullable = false, updatable = false)
    private int total;

    @Column(name = "completed_count", nullable = false)
    private int completed;

    @Column(name = "failed_count", nullable = false)
    private int failed;

    @Column(name = "line_executions", nullable = false)
    private long lineExecutions;

    @Column(name = "job_execution_id")
    private Long jobExecutionId;

    @Column(name = "error_message", length = 2000)
    private String errorMessage;

    @Column(name = "cancel_requested", nullable = false)
    private boolean cancelRequested;

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    @Column(name = "expires_at", nullable = false, updatable = false)
    private Instant expiresAt;

    @Column(name = "in_progress_at")
    private Instant inProgressAt;

    @Column(name = "finalizing_at")
    private Instant finalizingAt;

    @Column(name = "completed_at")
    private Instant completedAt;

    @Column(name = "failed_at")
    private Instant failedAt;

    @Column(name = "expired_at")
    private Instant expiredAt;

    @Column(name = "cancelling_at")
    private Instant cancellingAt;

    @Column(name = "cancelled_at")
    private Instant cancelledAt;

    protected Batch() {}

    public Batch(
            String id,
            Long ownerKeyId,
            String ownerTenant,
            String endpoint,
            String inputFileId,
            String metadata,
            String outputFileId,
            String errorFileId,
            int total) {
        if (!ENDPOINTS.contains(endpoint)) {
            throw new IllegalArgumentException("endpoint must be one of " + ENDPOINTS + ", got " + endpoint);
        }
        if (total < 0) throw new IllegalArgumentException("a batch has a non-negative number of lines");
        this.id = id;
        this.ownerKeyId = ownerKeyId;
        this.ownerTenant = ownerTenant;
        this.endpoint = endpoint;
        this.inputFileId = inputFileId;
        this.completionWindow = WINDOW_24H;
        this.metadata = metadata;
        this.outputFileId = outputFileId;
        this.errorFileId = errorFileId;
        this.total = total;
        this.status = VALIDATING;
        this.createdAt = now();
        this.expiresAt = createdAt.plus(Duration.ofHours(24));
    }

    private static Instant now() {
        return Instant.now().truncatedTo(ChronoUnit.MICROS);
    }

    /** Whether the status is one the batch never leaves. */
    public static boolean terminal(String status) {
        return COMPLETED.equals(status) || FAILED.equals(status) || EXPIRED.equals(status) || CANCELLED.equals(status);
    }

    public boolean isTerminal() {
        return terminal(status);
    }

    /** The job was started (or restarted) as execution {@code executionId}. */
    public void started(long executionId) {
        jobExecutionId = executionId;
        if (VALIDATING.equals(status)) {
            status = IN_PROGRESS;
            inProgressAt = now();
        }
    }

    /** One more line is sent through the pipeline (counted before it runs, restarts included). */
    public void lineExecuting() {
        lineExecutions++;
    }

    /** Results of lines were stored: {@code ok} answered, {@code errors} failed. */
    public void recorded(int ok, int errors) {
        if (ok < 0 || errors < 0 || completed + failed + ok + errors > total) {
            throw new IllegalStateException("batch " + id + " cannot record " + ok + "+" + errors + " more of " + total
                    + " lines (" + completed + " completed, " + failed + " failed)");
        }
        completed += ok;
        failed += errors;
    }

    /**
     * A cancellation was asked: {@code cancelling} until the job stops after its current line ({@link #ended});
     * false when the batch is already over (nothing changes).
     */
    public boolean requestCancel() {
        if (isTerminal()) return false;
        cancelRequested = true;
        if (!CANCELLING.equals(status)) {
            status = CANCELLING;
            cancellingAt = now();
        }
        return true;
    }

    public boolean isExpired(Instant at) {
        return !at.isBefore(expiresAt);
    }

    /** The job stopped reading lines: the output files are being written. */
    public void finalizing() {
        if (IN_PROGRESS.equals(status)) {
            status = FINALIZING;
            finalizingAt = now();
        }
    }

    /**
     * The job ended: cancelled if a cancellation was asked, expired if the window passed with lines left, failed with
     * {@code error} if the job failed, else completed. Terminal statuses stay as they are.
     */
    public void ended(String error) {
        if (isTerminal()) return;
        Instant at = now();
        if (cancelRequested) {
            status = CANCELLED;
            cancelledAt = at;
        } else if (error != null) {
            status = FAILED;
            failedAt = at;
            errorMessage = error.length() > 2000 ? error.substring(0, 2000) : error;
        } else if (completed + failed < total && isExpired(at)) {
            status = EXPIRED;
            expiredAt = at;
        } else {
            status = COMPLETED;
            completedAt = at;
        }
    }

    public boolean ownedBy(Long keyId) {
        return java.util.Objects.equals(ownerKeyId, keyId);
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

    public String endpoint() {
        return endpoint;
    }

    public String inputFileId() {
        return inputFileId;
    }

    public String completionWindow() {
        return completionWindow;
    }

    public String status() {
        return status;
    }

    public String metadata() {
        return metadata;
    }

    public String outputFileId() {
        return outputFileId;
    }

    public String errorFileId() {
        return errorFileId;
    }

    public int total() {
        return total;
    }

    public int completed() {
        return completed;
    }

    public int failed() {
        return failed;
    }

    public long lineExecutions() {
        return lineExecutions;
    }

    public Long jobExecutionId() {
        return jobExecutionId;
    }

    public String errorMessage() {
        return errorMessage;
    }

    public boolean cancelRequested() {
        return cancelRequested;
    }

    public Instant createdAt() {
        return createdAt;
    }

    public Instant expiresAt() {
        return expiresAt;
    }

    public Instant inProgressAt() {
        return inProgressAt;
    }

    public Instant finalizingAt() {
        return finalizingAt;
    }

    public Instant completedAt() {
        return completedAt;
    }

    public Instant failedAt() {
        return failedAt;
    }

    public Instant expiredAt() {
        return expiredAt;
    }

    public Instant cancellingAt() {
        return cancellingAt;
    }

    public Instant cancelledAt() {
        return cancelledAt;
    }
}
