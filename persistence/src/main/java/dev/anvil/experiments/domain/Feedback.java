package dev.anvil.experiments.domain;

import jakarta.persistence.Column;
import jakarta.persistence.Convert;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.NamedQuery;
import jakarta.persistence.Table;

import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * A user's rating of one response. Keyed by response id only, not tied to an experiment: any served response
 * can be rated, and results join feedback to outcomes by response id. Several ratings of one response are kept
 * (a user may change their mind); results use the latest.
 */
@Entity
@Table(name = "response_feedback")
@NamedQuery(name = Feedback.FOR_EXPERIMENT,
        query = "select f, o.variant.id from Feedback f, Outcome o where f.responseId = o.responseId and o.experiment = :experiment order by f.id")
public class Feedback {

    public static final String FOR_EXPERIMENT = "Feedback.forExperiment";

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "response_id", nullable = false, length = ExperimentText.MAX_RESPONSE_ID, updatable = false)
    private String responseId;

    @Convert(converter = Converters.ScaleConverter.class)
    @Column(name = "scale", nullable = false, length = 8, updatable = false)
    private FeedbackScale scale;

    @Column(name = "rating", nullable = false, updatable = false)
    private int rating;

    @Column(name = "comment_text", length = ExperimentText.MAX_COMMENT, updatable = false)
    private String comment;

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    protected Feedback() {
        // for JPA
    }

    public Feedback(String responseId, FeedbackScale scale, Integer rating, String comment, Instant at) {
        this.responseId = Outcome.requireResponseId(responseId);
        this.scale = scale;
        if (rating == null) {
            throw new InvalidExperimentException("rating", "rating is required (-1, 0 or 1 on the thumbs scale; 1 to 5 on the stars scale)");
        }
        if (rating < scale.min() || rating > scale.max()) {
            throw new InvalidExperimentException("rating", "rating " + rating + " is outside the " + scale.name().toLowerCase(java.util.Locale.ROOT)
                    + " scale (" + scale.min() + " to " + scale.max() + ")");
        }
        this.rating = rating;
        this.comment = ExperimentText.optional("comment", comment, ExperimentText.MAX_COMMENT);
        this.createdAt = at.truncatedTo(ChronoUnit.MICROS);
    }

    public boolean negative() {
        return scale.isNegative(rating);
    }

    public Long id() { return id; }
    public String responseId() { return responseId; }
    public FeedbackScale scale() { return scale; }
    public int rating() { return rating; }
    public String comment() { return comment; }
    public Instant createdAt() { return createdAt; }
}
