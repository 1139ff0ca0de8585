package dev.anvil.registry.domain;

import jakarta.persistence.CascadeType;
import jakarta.persistence.Column;
import jakarta.persistence.Convert;
import jakarta.persistence.Embedded;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.NamedQuery;
import jakarta.persistence.OneToMany;
import jakarta.persistence.OrderBy;
import jakarta.persistence.Table;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * One registered version of a model: an immutable {@link Artifact} plus a lifecycle {@link Stage}.
 * Every stage change goes through {@link #moveTo}, which enforces the lifecycle and appends the
 * change to the version's history; registration itself is the first history entry.
 */
@Entity
@Table(name = "registry_model_version")
@NamedQuery(name = ModelVersion.BY_MODEL, query = "select v from ModelVersion v where v.model = :model order by v.id")
@NamedQuery(
        name = ModelVersion.BY_MODEL_AND_VERSION,
        query = "select v from ModelVersion v where v.model = :model and v.version = :version")
@NamedQuery(
        name = ModelVersion.IN_STAGE,
        query = "select v from ModelVersion v where v.model = :model and v.stage = :stage order by v.id")
public class ModelVersion {

    public static final String BY_MODEL = "ModelVersion.byModel";
    public static final String BY_MODEL_AND_VERSION = "ModelVersion.byModelAndVersion";
    public static final String IN_STAGE = "ModelVersion.inStage";

    static final String REGISTERED_REASON = "registered";

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "model_id", nullable = false, updatable = false)
    private Model model;

    @Convert(converter = SemanticVersionConverter.class)
    @Column(name = "semver", nullable = false, length = SemanticVersion.MAX_LENGTH, updatable = false)
    private SemanticVersion version;

    @Column(name = "description", length = RegistryText.MAX_DESCRIPTION)
    private String description;

    @Embedded
    private Artifact artifact;

    @Convert(converter = StageConverter.class)
    @Column(name = "stage", nullable = false, length = 16)
    private Stage stage;

    /*
     * The model's id while this version is in PRODUCTION, NULL otherwise. The column is UNIQUE and NULLs
     * never collide, so the database itself refuses a second PRODUCTION version of one model; a CHECK ties
     * it to the stage column. (A partial unique index would say the same, but H2 has none.)
     */
    @Column(name = "production_model_id")
    private Long productionModelId;

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    @Column(name = "created_by", nullable = false, length = RegistryText.MAX_ACTOR, updatable = false)
    private String createdBy;

    /** Last move up to STAGING or PRODUCTION; archiving or resetting a version leaves it as it was. */
    @Column(name = "promoted_at")
    private Instant promotedAt;

    @Column(name = "promoted_by", length = RegistryText.MAX_ACTOR)
    private String promotedBy;

    @OneToMany(mappedBy = "modelVersion", cascade = CascadeType.PERSIST)
    @OrderBy("id")
    private List<StageTransition> history = new ArrayList<>();

    protected ModelVersion() {
        // for JPA
    }

    /** Registers a new version in stage NONE; the registration is recorded as the first transition (from nothing to NONE). */
    public ModelVersion(
            Model model, SemanticVersion version, Artifact artifact, String description, String actor, Instant at) {
        this.model = Objects.requireNonNull(model, "model");
        this.version = Objects.requireNonNull(version, "version");
        this.artifact = Objects.requireNonNull(artifact, "artifact");
        this.description = RegistryText.optional("description", description, RegistryText.MAX_DESCRIPTION);
        this.createdBy = RegistryText.requireActor(actor);
        this.createdAt = at.truncatedTo(ChronoUnit.MICROS);
        this.stage = Stage.NONE;
        history.add(new StageTransition(this, null, Stage.NONE, createdBy, REGISTERED_REASON, createdAt));
    }

    /**
     * Moves this version to {@code target}, recording who, when and why.
     *
     * @return the history entry, already attached (it is persisted with this version)
     * @throws IllegalStageTransitionException if the lifecycle does not allow the move
     */
    public StageTransition moveTo(Stage target, String actor, String reason, Instant at) {
        String who = RegistryText.requireActor(actor);
        String why = RegistryText.optional("reason", reason, RegistryText.MAX_REASON);
        checkMoveTo(target);
        Instant when = at.truncatedTo(ChronoUnit.MICROS);
        Stage from = stage;
        stage = target;
        productionModelId = target == Stage.PRODUCTION ? model.id() : null;
        if (target == Stage.STAGING || target == Stage.PRODUCTION) {
            promotedAt = when;
            promotedBy = who;
        }
        StageTransition transition = new StageTransition(this, from, target, who, why, when);
        history.add(transition);
        return transition;
    }

    /**
     * Refuses a move the lifecycle does not allow, without changing anything; lets a caller check the whole
     * request before it makes related changes (such as archiving the current PRODUCTION version).
     *
     * @throws IllegalStageTransitionException naming the version, both stages and the allowed targets
     */
    public void checkMoveTo(Stage target) {
        Objects.requireNonNull(target, "target");
        if (target == stage) {
            throw new IllegalStageTransitionException(
                    stage,
                    target,
                    "version " + version + " of model " + model.name() + " is already in stage " + stage);
        }
        if (!stage.canMoveTo(target)) {
            throw new IllegalStageTransitionException(
                    stage,
                    target,
                    "version " + version + " of model " + model.name() + " cannot move from " + stage + " to " + target
                            + " (allowed from " + stage + ": " + stage.successors() + ")");
        }
    }

    public Long id() {
        return id;
    }

    public Model model() {
        return model;
    }

    public SemanticVersion version() {
        return version;
    }

    public String description() {
        return description;
    }

    public Artifact artifact() {
        return artifact;
    }

    public Stage stage() {
        return stage;
    }

    public Instant createdAt() {
        return createdAt;
    }

    public String createdBy() {
        return createdBy;
    }

    public Instant promotedAt() {
        return promotedAt;
    }

    public String promotedBy() {
        return promotedBy;
    }

    public List<StageTransition> history() {
        return Collections.unmodifiableList(history);
    }
}
