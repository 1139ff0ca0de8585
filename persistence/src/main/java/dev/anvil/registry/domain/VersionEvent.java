package dev.anvil.registry.domain;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
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
 * An event in a version's history that is not a stage change: what the server noticed about its traffic (drift
 * detected or cleared on a feature) or an operator's act on it (the drift reference re-pinned). Append-only.
 */
@Entity
@Table(name = "registry_version_event")
@NamedQuery(
        name = VersionEvent.BY_MODEL,
        query = "select e from VersionEvent e where e.modelVersion.model = :model order by e.id")
@NamedQuery(
        name = VersionEvent.BY_VERSION,
        query = "select e from VersionEvent e where e.modelVersion = :version order by e.id")
public class VersionEvent {

    public static final String BY_MODEL = "VersionEvent.byModel";
    public static final String BY_VERSION = "VersionEvent.byVersion";
    public static final int MAX_DETAIL = 1000;

    public enum Kind {
        DRIFT_DETECTED,
        DRIFT_CLEARED,
        DRIFT_REFERENCE_PINNED
    }

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "model_version_id", nullable = false, updatable = false)
    private ModelVersion modelVersion;

    @Enumerated(EnumType.STRING)
    @Column(name = "kind", nullable = false, length = 32, updatable = false)
    private Kind kind;

    @Column(name = "actor", nullable = false, length = RegistryText.MAX_ACTOR, updatable = false)
    private String actor;

    @Column(name = "occurred_at", nullable = false, updatable = false)
    private Instant occurredAt;

    @Column(name = "detail", nullable = false, length = MAX_DETAIL, updatable = false)
    private String detail;

    protected VersionEvent() {
        // for JPA
    }

    /** {@code detail} is clipped to {@link #MAX_DETAIL} characters (it is the server's own text). */
    public VersionEvent(ModelVersion modelVersion, Kind kind, String actor, String detail, Instant occurredAt) {
        this.modelVersion = java.util.Objects.requireNonNull(modelVersion, "modelVersion");
        this.kind = java.util.Objects.requireNonNull(kind, "kind");
        this.actor = RegistryText.requireActor(actor);
        this.detail = detail.length() > MAX_DETAIL ? detail.substring(0, MAX_DETAIL) : detail;
        this.occurredAt = occurredAt.truncatedTo(ChronoUnit.MICROS);
    }

    public Long id() {
        return id;
    }

    public ModelVersion modelVersion() {
        return modelVersion;
    }

    public Kind kind() {
        return kind;
    }

    public String actor() {
        return actor;
    }

    public Instant occurredAt() {
        return occurredAt;
    }

    public String detail() {
        return detail;
    }
}
