package dev.anvil.experiments.domain;

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
 * One entry of an experiment's history: what happened (created, started, weights changed, ...), the status
 * before and after, who, when and why. Append-only; {@code from} is null for the creation.
 */
@Entity
@Table(name = "experiment_event")
@NamedQuery(
        name = ExperimentEvent.BY_EXPERIMENT,
        query = "select e from ExperimentEvent e where e.experiment = :experiment order by e.id")
public class ExperimentEvent {

    public static final String BY_EXPERIMENT = "ExperimentEvent.byExperiment";

    public enum Action {
        CREATED,
        STARTED,
        PAUSED,
        RESUMED,
        COMPLETED,
        ROLLED_BACK,
        WEIGHTS_CHANGED
    }

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "experiment_id", nullable = false, updatable = false)
    private Experiment experiment;

    @Column(name = "action", nullable = false, length = 32, updatable = false)
    private String action;

    @Convert(converter = Converters.StatusConverter.class)
    @Column(name = "from_status", length = 16, updatable = false)
    private ExperimentStatus from;

    @Convert(converter = Converters.StatusConverter.class)
    @Column(name = "to_status", nullable = false, length = 16, updatable = false)
    private ExperimentStatus to;

    @Column(name = "actor", nullable = false, length = ExperimentText.MAX_ACTOR, updatable = false)
    private String actor;

    @Column(name = "occurred_at", nullable = false, updatable = false)
    private Instant occurredAt;

    @Column(name = "reason", length = ExperimentText.MAX_REASON, updatable = false)
    private String reason;

    protected ExperimentEvent() {
        // for JPA
    }

    ExperimentEvent(
            Experiment experiment,
            Action action,
            ExperimentStatus from,
            ExperimentStatus to,
            String actor,
            String reason,
            Instant occurredAt) {
        this.experiment = experiment;
        this.action = action.name();
        this.from = from;
        this.to = to;
        this.actor = actor;
        this.reason = reason;
        this.occurredAt = occurredAt;
    }

    public Long id() {
        return id;
    }

    public Experiment experiment() {
        return experiment;
    }

    public Action action() {
        return Action.valueOf(action);
    }

    public ExperimentStatus from() {
        return from;
    }

    public ExperimentStatus to() {
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
