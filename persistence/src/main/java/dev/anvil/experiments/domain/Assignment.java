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
import java.util.regex.Pattern;

/**
 * The variant a subject (user, session) was first given in an experiment. Recorded so a subject keeps its
 * variant even after weights change: stickiness must not depend on the weights staying put. Only the
 * SHA-256 of the subject key is stored.
 */
@Entity
@Table(name = "experiment_assignment")
@NamedQuery(
        name = Assignment.BY_SUBJECT,
        query =
                "select a from Assignment a join fetch a.variant where a.experiment = :experiment and a.subjectHash = :subjectHash")
@NamedQuery(
        name = Assignment.COUNT_BY_VARIANT,
        query =
                "select a.variant.id, count(a) from Assignment a where a.experiment = :experiment group by a.variant.id")
public class Assignment {

    public static final String BY_SUBJECT = "Assignment.bySubject";
    public static final String COUNT_BY_VARIANT = "Assignment.countByVariant";
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "experiment_id", nullable = false, updatable = false)
    private Experiment experiment;

    @Column(name = "subject_hash", nullable = false, length = 64, updatable = false)
    private String subjectHash;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "variant_id", nullable = false, updatable = false)
    private Variant variant;

    @Column(name = "first_seen", nullable = false, updatable = false)
    private Instant firstSeen;

    protected Assignment() {
        // for JPA
    }

    public Assignment(Experiment experiment, String subjectHash, Variant variant, Instant firstSeen) {
        if (subjectHash == null || !SHA256_HEX.matcher(subjectHash).matches()) {
            throw new InvalidExperimentException("key", "subject hash must be 64 lowercase hex characters (SHA-256)");
        }
        if (variant.experiment() != experiment) {
            throw new InvalidExperimentException(
                    "variant", "variant " + variant.name() + " is not part of experiment " + experiment.name());
        }
        this.experiment = experiment;
        this.subjectHash = subjectHash;
        this.variant = variant;
        this.firstSeen = firstSeen.truncatedTo(ChronoUnit.MICROS);
    }

    public Long id() {
        return id;
    }

    public Experiment experiment() {
        return experiment;
    }

    public String subjectHash() {
        return subjectHash;
    }

    public Variant variant() {
        return variant;
    }

    public Instant firstSeen() {
        return firstSeen;
    }
}
