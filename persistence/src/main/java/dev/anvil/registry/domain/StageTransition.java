package dev.anvil.registry.domain;

import jakarta.persistence.Column;
import jakarta.persistence.Convert;
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

/**
 * One entry of a version's stage history: from which stage to which, who did it, when and why.
 * Append-only: rows are never updated. {@code from} is null for the registration itself.
 */
@Entity
@Table(name = "registry_stage_transition")
@NamedQuery(
        name = StageTransition.BY_MODEL,
        query = "select t from StageTransition t where t.modelVersion.model = :model order by t.id")
@NamedQuery(
        name = StageTransition.BY_VERSION,
        query = "select t from StageTransition t where t.modelVersion = :version order by t.id")
public class StageTransition {

    public static final String BY_MODEL = "StageTransition.byModel";
    public static final String BY_VERSION = "StageTransition.byVersion";

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "model_version_id", nullable = false, updatable = false)
    private ModelVersion modelVersion;

    @Convert(converter = StageConverter.class)
    @Column(name = "from_stage", length = 16, updatable = false)
    private Stage from;

    @Convert(converter = StageConverter.class)
    @Column(name = "to_stage", nullable = false, length = 16, updatable = false)
    private Stage to;

    @Column(name = "actor", nullable = false, length = RegistryText.MAX_ACTOR, updatable = false)
    private String actor;

    @Column(name = "occurred_at", nullable = false, updatable = false)
    private Instant occurredAt;

    @Column(name = "reason", length = RegistryText.MAX_REASON, updatable = false)
    private String reason;

    protected StageTransition() {
        // for JPA
    }

    /** Created only by {@link ModelVersion}, which validates the move first. */
    StageTransition(ModelVersion modelVersion, Stage from, Stage to, String actor, String reason, Instant occurredAt) {
        this.modelVersion = modelVersion;
        this.from = from;
        this.to = to;
        this.actor = actor;
        this.reason = reason;
        this.occurredAt = occurredAt;
    }

    public Long id() {
        return id;
    }

    public ModelVersion modelVersion() {
        return modelVersion;
    }
    /** Null for the registration entry. */
    public Stage from() {
        return from;
    }

    public Stage to() {
        return to;
    }

    public String actor() {
        return actor;
    }

    public Instant occurredAt() {
        return occurredAt;
    }

    public String reason() {
        return reason;
    }
}
