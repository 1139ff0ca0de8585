package dev.anvil.experiments.domain;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.NamedQuery;
import jakarta.persistence.Table;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/** What one response served by a variant cost and how it went. One row per response id. */
@Entity
@Table(name = "experiment_outcome")
@NamedQuery(
        name = Outcome.BY_EXPERIMENT,
        query = "select o from Outcome o where o.experiment = :experiment order by o.id")
@NamedQuery(name = Outcome.BY_RESPONSE, query = "select o from Outcome o where o.responseId = :responseId")
public class Outcome {

    public static final String BY_EXPERIMENT = "Outcome.byExperiment";
    public static final String BY_RESPONSE = "Outcome.byResponse";

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "experiment_id", nullable = false, updatable = false)
    private Experiment experiment;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "variant_id", nullable = false, updatable = false)
    private Variant variant;

    @Column(name = "response_id", nullable = false, length = ExperimentText.MAX_RESPONSE_ID, updatable = false)
    private String responseId;

    @Column(name = "latency_ms", nullable = false, updatable = false)
    private long latencyMs;

    @Column(name = "ttft_ms", updatable = false)
    private Long ttftMs;

    @Column(name = "prompt_tokens", nullable = false, updatable = false)
    private int promptTokens;

    @Column(name = "completion_tokens", nullable = false, updatable = false)
    private int completionTokens;

    @Column(name = "error", nullable = false, updatable = false)
    private boolean error;

    @Column(name = "cost", nullable = false, updatable = false)
    private double cost;

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    protected Outcome() {
        // for JPA
    }

    public Outcome(
            Variant variant,
            String responseId,
            long latencyMs,
            Long ttftMs,
            int promptTokens,
            int completionTokens,
            boolean error,
            double cost,
            Instant at) {
        this.variant = variant;
        this.experiment = variant.experiment();
        this.responseId = requireResponseId(responseId);
        if (latencyMs < 0)
            throw new InvalidExperimentException("latencyMs", "latencyMs must not be negative, got " + latencyMs);
        if (ttftMs != null && ttftMs < 0)
            throw new InvalidExperimentException("ttftMs", "ttftMs must not be negative, got " + ttftMs);
        if (ttftMs != null && ttftMs > latencyMs) {
            throw new InvalidExperimentException(
                    "ttftMs", "ttftMs (" + ttftMs + ") cannot exceed latencyMs (" + latencyMs + ")");
        }
        if (promptTokens < 0) throw new InvalidExperimentException("promptTokens", "promptTokens must not be negative");
        if (completionTokens < 0)
            throw new InvalidExperimentException("completionTokens", "completionTokens must not be negative");
        if (!(cost >= 0) || Double.isInfinite(cost))
            throw new InvalidExperimentException("cost", "cost must be a finite amount >= 0, got " + cost);
        this.latencyMs = latencyMs;
        this.ttftMs = ttftMs;
        this.promptTokens = promptTokens;
        this.completionTokens = completionTokens;
        this.error = error;
        this.cost = cost;
        this.createdAt = at.truncatedTo(ChronoUnit.MICROS);
    }

    static String requireResponseId(String responseId) {
        if (responseId == null || responseId.isBlank()) {
            throw new InvalidExperimentException("responseId", "responseId is required");
        }
        if (responseId.length() > ExperimentText.MAX_RESPONSE_ID) {
            throw new InvalidExperimentException(
                    "responseId", "responseId is longer than " + ExperimentText.MAX_RESPONSE_ID + " characters");
        }
        ExperimentText.refuseNul("responseId", responseId);
        return responseId;
    }

    public Long id() {
        return id;
    }

    public Experiment experiment() {
        return experiment;
    }

    public Variant variant() {
        return variant;
    }

    public String responseId() {
        return responseId;
    }

    public long latencyMs() {
        return latencyMs;
    }

    public Long ttftMs() {
        return ttftMs;
    }

    public int promptTokens() {
        return promptTokens;
    }

    public int completionTokens() {
        return completionTokens;
    }

    public boolean error() {
        return error;
    }

    public double cost() {
        return cost;
    }

    public Instant createdAt() {
        return createdAt;
    }
}
