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

/**
 * How a shadow variant's answer to a copied live request compared with the control's answer (which the caller got):
 * whether the outputs agree, how similar they are, and the length and latency of each. The shadow's text itself is
 * not kept.
 */
@Entity
@Table(name = "experiment_shadow_comparison")
@NamedQuery(
        name = ShadowComparison.BY_EXPERIMENT,
        query = "select c from ShadowComparison c where c.experiment = :experiment order by c.id")
public class ShadowComparison {

    public static final String BY_EXPERIMENT = "ShadowComparison.byExperiment";

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

    @Column(name = "control_latency_ms", nullable = false, updatable = false)
    private long controlLatencyMs;

    @Column(name = "shadow_latency_ms", nullable = false, updatable = false)
    private long shadowLatencyMs;

    @Column(name = "control_completion_tokens", nullable = false, updatable = false)
    private int controlCompletionTokens;

    @Column(name = "shadow_completion_tokens", nullable = false, updatable = false)
    private int shadowCompletionTokens;

    @Column(name = "control_chars", nullable = false, updatable = false)
    private int controlChars;

    @Column(name = "shadow_chars", nullable = false, updatable = false)
    private int shadowChars;

    @Column(name = "outputs_agree", nullable = false, updatable = false)
    private boolean outputsAgree;

    @Column(name = "similarity", nullable = false, updatable = false)
    private double similarity;

    @Column(name = "shadow_error", nullable = false, updatable = false)
    private boolean shadowError;

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    protected ShadowComparison() {
        // for JPA
    }

    public ShadowComparison(
            Variant shadow,
            String responseId,
            long controlLatencyMs,
            long shadowLatencyMs,
            int controlCompletionTokens,
            int shadowCompletionTokens,
            int controlChars,
            int shadowChars,
            boolean outputsAgree,
            double similarity,
            boolean shadowError,
            Instant at) {
        if (shadow.control()) {
            throw new InvalidExperimentException(
                    "variant", "variant " + shadow.name() + " is the control, not a shadow variant");
        }
        this.variant = shadow;
        this.experiment = shadow.experiment();
        this.responseId = Outcome.requireResponseId(responseId);
        if (controlLatencyMs < 0 || shadowLatencyMs < 0)
            throw new InvalidExperimentException("latencyMs", "latencies must not be negative");
        if (controlCompletionTokens < 0 || shadowCompletionTokens < 0 || controlChars < 0 || shadowChars < 0) {
            throw new InvalidExperimentException("completionTokens", "lengths must not be negative");
        }
        if (!(similarity >= 0 && similarity <= 1)) {
            throw new InvalidExperimentException("similarity", "similarity must be between 0 and 1, got " + similarity);
        }
        this.controlLatencyMs = controlLatencyMs;
        this.shadowLatencyMs = shadowLatencyMs;
        this.controlCompletionTokens = controlCompletionTokens;
        this.shadowCompletionTokens = shadowCompletionTokens;
        this.controlChars = controlChars;
        this.shadowChars = shadowChars;
        this.outputsAgree = outputsAgree;
        this.similarity = similarity;
        this.shadowError = shadowError;
        this.createdAt = at.truncatedTo(ChronoUnit.MICROS);
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

    public long controlLatencyMs() {
        return controlLatencyMs;
    }

    public long shadowLatencyMs() {
        return shadowLatencyMs;
    }

    public int controlCompletionTokens() {
        return controlCompletionTokens;
    }

    public int shadowCompletionTokens() {
        return shadowCompletionTokens;
    }

    public int controlChars() {
        return controlChars;
    }

    public int shadowChars() {
        return shadowChars;
    }

    public boolean outputsAgree() {
        return outputsAgree;
    }

    public double similarity() {
        return similarity;
    }

    public boolean shadowError() {
        return shadowError;
    }

    public Instant createdAt() {
        return createdAt;
    }
}
