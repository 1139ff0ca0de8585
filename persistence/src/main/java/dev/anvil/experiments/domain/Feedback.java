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
 * The rating of one response by the caller that received it (the web tier checks who that was). Keyed by response
 * id, not tied to an experiment: results join feedback to outcomes by response id. One rating per response (a
 * database rule): a later rating replaces the earlier one ({@link #replace}), so repeating a rating cannot weigh
 * more than once in results, a canary's rollback check or a bandit's weights.
 */
@Entity
@Table(name = "response_feedback")
@NamedQuery(name = Feedback.BY_RESPONSE, query = "select f from Feedback f where f.responseId = :responseId")
@NamedQuery(
        name = Feedback.FOR_EXPERIMENT,
        query =
                "select f, o.variant.id from Feedback f, Outcome o where f.responseId = o.responseId and o.experiment = :experiment order by f.id")
public class Feedback {

    public static final String FOR_EXPERIMENT = "Feedback.forExperiment";
    public static final String BY_RESPONSE = "Feedback.byResponse";

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "response_id", nullable = false, length = ExperimentText.MAX_RESPONSE_ID, updatable = false)
    private String responseId;

    @Convert(converter = Converters.ScaleConverter.class)
    @Column(name = "scale", nullable = false, length = 8)
    private FeedbackScale scale;

    @Column(name = "rating", nullable = false)
    private int rating;

    @Column(name = "comment_text", length = ExperimentText.MAX_COMMENT)
    private String comment;

    /** When the rating in effect was given (a replacement moves it). */
    @Column(name = "created_at", nullable = false)
    private Instant createdAt;

    protected Feedback() {
        // for JPA
    }

    public Feedback(String responseId, FeedbackScale scale, Integer rating, String comment, Instant at) {
        this.responseId = Outcome.requireResponseId(responseId);
        rate(scale, rating, comment, at);
    }

    /** The same caller rates the response again: the new rating replaces this one (validated the same way). */
    public void replace(FeedbackScale scale, Integer rating, String comment, Instant at) {
        rate(scale, rating, comment, at);
    }

    private void rate(FeedbackScale scale, Integer rating, String comment, Instant at) {
        if (rating == null) {
            throw new InvalidExperimentException(
                    "rating", "rating is required (-1, 0 or 1 on the thumbs scale; 1 to 5 on the stars scale)");
        }
        if (rating < scale.min() || rating > scale.max()) {
            throw new InvalidExperimentException(
                    "rating",
                    "rating " + rating + " is outside the " + scale.name().toLowerCase(java.util.Locale.ROOT)
                            + " scale (" + scale.min() + " to " + scale.max() + ")");
        }
        String text = ExperimentText.optional("comment", comment, ExperimentText.MAX_COMMENT);
        // Checked in full before anything changes: a refused replacement leaves the rating in effect as it was.
        this.scale = scale;
        this.rating = rating;
        this.comment = text;
        this.createdAt = at.truncatedTo(ChronoUnit.MICROS);
    }

    public boolean negative() {
        return scale.isNegative(rating);
    }

    public Long id() {
        return id;
    }

    public String responseId() {
        return responseId;
    }

    public FeedbackScale scale() {
        return scale;
    }

    public int rating() {
        return rating;
    }

    public String comment() {
        return comment;
    }

    public Instant createdAt() {
        return createdAt;
    }
}
