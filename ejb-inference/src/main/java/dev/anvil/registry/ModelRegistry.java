package dev.anvil.registry;

import dev.anvil.registry.domain.Artifact;
import dev.anvil.registry.domain.ArtifactFormat;
import dev.anvil.registry.domain.Model;
import dev.anvil.registry.domain.ModelVersion;
import dev.anvil.registry.domain.RegistryText;
import dev.anvil.registry.domain.SemanticVersion;
import dev.anvil.registry.domain.Stage;
import dev.anvil.registry.domain.StageTransition;
import dev.anvil.registry.domain.VersionEvent;
import dev.anvil.security.Callers;
import dev.anvil.security.Roles;
import jakarta.annotation.Resource;
import jakarta.annotation.security.PermitAll;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.ejb.SessionContext;
import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.enterprise.event.Event;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import jakarta.persistence.PersistenceException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The model registry: models, their versions, and the stage lifecycle of each version with its history.
 * Every failure the client can act on is a {@link RegistryException} with a kind (bad request, not found,
 * conflict, unavailable); refused requests write nothing.
 *
 * <p>Stage changes lock the model's row first, so concurrent changes to one model's versions serialise; the
 * schema's UNIQUE constraint on the PRODUCTION marker backs this up, and a violation of it is reported as a
 * conflict, never as a server error.
 *
 * <p>Access: changes and the history are for {@link Roles#ADMIN} (checked here as well as on the admin API's
 * resources); the serving tier reads models and versions without a caller. The actor of a change is the caller's
 * authenticated principal ({@link Callers}).
 */
@Stateless
@RolesAllowed(Roles.ADMIN)
public class ModelRegistry {

    @Resource
    SessionContext session;

    @PersistenceContext(unitName = "anvil")
    EntityManager em;

    @Inject
    ArtifactInspector inspector;

    @Inject
    RegistryMetrics metrics;

    @EJB
    SchemaMigrator migrator;

    @EJB
    VersionRecorder recorder;

    /** Stage changes for the serving tier (observed after commit); null outside a container. */
    @Inject
    Event<ModelStageChanged> stageChanged;

    Clock clock = Clock.systemUTC();

    // --- models --------------------------------------------------------------------------------------

    public ModelInfo createModel(CreateModelCommand command) {
        requireMigrated();
        String actor = Callers.actor(session);
        if (Queries.model(em, command.name()).isPresent()) {
            throw RegistryException.conflict("model " + command.name() + " already exists", "name", "model_exists");
        }
        Model model = RegistryRules.check(() -> new Model(
                command.name(), command.description(), command.owner(), command.tags(), actor, clock.instant()));
        try {
            em.persist(model);
            em.flush();
        } catch (PersistenceException e) {
            if (PersistenceFailures.classify(e).isPresent()) {
                throw RegistryException.conflict("model " + command.name() + " already exists", "name", "model_exists");
            }
            throw e;
        }
        return ModelInfo.of(model, 0, null);
    }

    @PermitAll
    public List<ModelInfo> listModels() {
        requireMigrated();
        Map<Long, Long> counts = new HashMap<>();
        for (Object[] row : em.createQuery(
                        "select v.model.id, count(v) from ModelVersion v group by v.model.id", Object[].class)
                .getResultList()) {
            counts.put((Long) row[0], (Long) row[1]);
        }
        Map<Long, String> production = new HashMap<>();
        for (ModelVersion v : em.createQuery("select v from ModelVersion v where v.stage = :stage", ModelVersion.class)
                .setParameter("stage", Stage.PRODUCTION)
                .getResultList()) {
            production.put(v.model().id(), v.version().toString());
        }
        return em
                .createQuery("select distinct m from Model m left join fetch m.tags order by m.name", Model.class)
                .getResultList()
                .stream()
                .map(m -> ModelInfo.of(m, counts.getOrDefault(m.id(), 0L).intValue(), production.get(m.id())))
                .toList();
    }

    @PermitAll
    public ModelInfo getModel(String name) {
        requireMigrated();
        Model model = existingModel(name);
        List<ModelVersion> versions = versionsOf(model);
        String production = versions.stream()
                .filter(v -> v.stage() == Stage.PRODUCTION)
                .map(v -> v.version().toString())
                .findFirst()
                .orElse(null);
        return ModelInfo.of(model, versions.size(), production);
    }

    // --- versions ------------------------------------------------------------------------------------

    /**
     * Registers a version from a file on the server. The file is hashed and its header read outside any
     * transaction (large files take seconds to hash); only then is the version written, in one transaction.
     */
    @TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
    public ModelVersionInfo registerVersion(RegisterVersionCommand command) {
        try {
            requireMigrated();
            // Cheap checks first, so a malformed request never costs a pass over a multi-gigabyte file.
            String actor = Callers.actor(session);
            String who = RegistryRules.check(() -> RegistryText.requireActor(actor));
            RegistryRules.check(() -> RegistryText.requireModelName(command.model()));
            SemanticVersion version = RegistryRules.check(() -> SemanticVersion.parse(command.version()));
            ArtifactFormat format = command.format() == null || command.format().isBlank()
                    ? null
                    : RegistryRules.check(() -> ArtifactFormat.parse(command.format()));
            String expectedSha = command.sha256() == null || command.sha256().isBlank()
                    ? null
                    : RegistryRules.check(() -> Artifact.normalizeSha256(command.sha256()));
            ArtifactFacts facts = inspector.inspect(command.path(), format, expectedSha);
            ModelVersionInfo registered;
            try {
                registered = recorder.record(command, version, facts, who);
            } catch (RegistryException e) {
                if (!VersionRecorder.MODEL_RACE.equals(e.code())) throw e;
                // The model now exists (created by the request we raced with): this attempt will find it.
                registered = recorder.record(command, version, facts, who);
            }
            metrics.registration("created");
            return registered;
        } catch (RuntimeException e) {
            metrics.registration(RegistryMetrics.outcomeOf(e));
            throw e;
        }
    }

    /** The model's versions in semantic-version order (build metadata, which has no precedence, breaks ties by text). */
    public List<ModelVersionInfo> listVersions(String model) {
        requireMigrated();
        return versionsOf(existingModel(model)).stream()
                .sorted(Comparator.comparing(ModelVersion::version)
                        .thenComparing(v -> v.version().toString()))
                .map(ModelVersionInfo::of)
                .toList();
    }

    @PermitAll
    public ModelVersionInfo getVersion(String model, String version) {
        requireMigrated();
        return ModelVersionInfo.of(existingVersion(existingModel(model), version));
    }

    // --- stages --------------------------------------------------------------------------------------

    /**
     * Moves a version to another stage. Promoting to PRODUCTION archives the version that was in PRODUCTION,
     * in the same transaction, so a model never has two PRODUCTION versions nor, between the two steps, none
     * visible to other readers.
     */
    public StageChangeResult changeStage(String model, String version, String stage, String reason) {
        // Metric label: a known stage name, or "invalid" so client typos cannot multiply time series.
        String stageLabel = "invalid";
        try {
            requireMigrated();
            Stage target = RegistryRules.check(() -> Stage.parse(stage));
            stageLabel = target.name();
            String actor = Callers.actor(session);
            String who = RegistryRules.check(() -> RegistryText.requireActor(actor));
            StageChangeResult result = moveLocked(model, version, target, reason, who);
            announce(result);
            metrics.transition(stageLabel, "ok");
            return result;
        } catch (RuntimeException e) {
            metrics.transition(stageLabel, RegistryMetrics.outcomeOf(e));
            throw e;
        }
    }

    /**
     * Blue-green: makes {@code version} the PRODUCTION version and moves the current PRODUCTION version to STAGING (not
     * ARCHIVED: it stays a valid target to switch back to), in one transaction. Refuses a version already in
     * PRODUCTION or ARCHIVED.
     */
    public StageChangeResult switchProduction(String modelName, String versionText, String reason) {
        requireMigrated();
        String actor = Callers.actor(session);
        String who = RegistryRules.check(() -> RegistryText.requireActor(actor));
        Instant now = clock.instant();
        Model model = Queries.lockedModel(em, modelName).orElseThrow(() -> modelNotFound(modelName));
        ModelVersion subject = existingVersion(model, versionText);
        if (subject.stage() == Stage.PRODUCTION) {
            throw RegistryException.conflict(
                    "version " + versionText + " of model " + modelName + " is already PRODUCTION: nothing to switch",
                    "version",
                    "already_production");
        }
        if (subject.stage() == Stage.ARCHIVED) {
            throw RegistryException.conflict(
                    "version " + versionText + " of model " + modelName
                            + " is ARCHIVED: move it to STAGING first, then switch to it",
                    "version",
                    "version_archived");
        }
        List<StageTransition> made = new ArrayList<>();
        for (ModelVersion current : em.createNamedQuery(ModelVersion.IN_STAGE, ModelVersion.class)
                .setParameter("model", model)
                .setParameter("stage", Stage.PRODUCTION)
                .getResultList()) {
            made.add(RegistryRules.check(() -> current.moveTo(
                    Stage.STAGING,
                    who,
                    "blue-green switch to version " + subject.version() + " (kept loaded as standby)",
                    now)));
        }
        em.flush(); // the old PRODUCTION row loses its marker before the new one gains it (UNIQUE per statement)
        made.add(RegistryRules.check(() -> subject.moveTo(
                Stage.PRODUCTION, who, reason == null || reason.isBlank() ? "blue-green switch" : reason, now)));
        em.flush();
        StageChangeResult result = new StageChangeResult(
                ModelVersionInfo.of(subject),
                made.stream().map(TransitionInfo::of).toList());
        announce(result);
        metrics.transition(Stage.PRODUCTION.name(), "ok");
        return result;
    }

    private StageChangeResult moveLocked(
            String modelName, String versionText, Stage target, String reason, String actor) {
        Instant now = clock.instant();
        try {
            // The lock comes first: everything read after it reflects the last committed stage change.
            Model model = Queries.lockedModel(em, modelName).orElseThrow(() -> modelNotFound(modelName));
            ModelVersion subject = existingVersion(model, versionText);
            RegistryRules.check(() -> {
                subject.checkMoveTo(target);
                return null;
            });
            List<StageTransition> made = new ArrayList<>();
            if (target == Stage.PRODUCTION) {
                for (ModelVersion current : em.createNamedQuery(ModelVersion.IN_STAGE, ModelVersion.class)
                        .setParameter("model", model)
                        .setParameter("stage", Stage.PRODUCTION)
                        .getResultList()) {
                    made.add(current.moveTo(Stage.ARCHIVED, actor, "superseded by version " + subject.version(), now));
                }
                // The UNIQUE constraint is checked per statement: the old PRODUCTION row must lose its marker
                // before the new one gains it, whatever order Hibernate would otherwise flush them in.
                em.flush();
            }
            made.add(RegistryRules.check(() -> subject.moveTo(target, actor, reason, now)));
            em.flush();
            return new StageChangeResult(
                    ModelVersionInfo.of(subject),
                    made.stream().map(TransitionInfo::of).toList());
        } catch (PersistenceException e) {
            if (PersistenceFailures.classify(e).isPresent()) {
                throw RegistryException.conflict(
                        "version " + versionText + " of model " + modelName + " could not move to " + target
                                + " because a concurrent change to the model won; retry",
                        "stage",
                        "concurrent_change");
            }
            throw e;
        }
    }

    // --- history -------------------------------------------------------------------------------------

    /** Every stage transition of every version of the model, oldest first. */
    public List<TransitionInfo> history(String model) {
        requireMigrated();
        return em
                .createNamedQuery(StageTransition.BY_MODEL, StageTransition.class)
                .setParameter("model", existingModel(model))
                .getResultList()
                .stream()
                .map(TransitionInfo::of)
                .toList();
    }

    /** The stage transitions of one version, oldest first, starting with its registration. */
    public List<TransitionInfo> history(String model, String version) {
        requireMigrated();
        return em
                .createNamedQuery(StageTransition.BY_VERSION, StageTransition.class)
                .setParameter("version", existingVersion(existingModel(model), version))
                .getResultList()
                .stream()
                .map(TransitionInfo::of)
                .toList();
    }

    /** The other events of every version of the model (drift detected/cleared, reference pinned), oldest first. */
    public List<VersionEventInfo> events(String model) {
        requireMigrated();
        return em
                .createNamedQuery(VersionEvent.BY_MODEL, VersionEvent.class)
                .setParameter("model", existingModel(model))
                .getResultList()
                .stream()
                .map(VersionEventInfo::of)
                .toList();
    }

    /** The other events of one version, oldest first. */
    public List<VersionEventInfo> events(String model, String version) {
        requireMigrated();
        return em
                .createNamedQuery(VersionEvent.BY_VERSION, VersionEvent.class)
                .setParameter("version", existingVersion(existingModel(model), version))
                .getResultList()
                .stream()
                .map(VersionEventInfo::of)
                .toList();
    }

    // --- helpers -------------------------------------------------------------------------------------

    private void requireMigrated() {
        if (!migrator.migrated()) {
            throw new RegistryException(
                    RegistryException.Kind.UNAVAILABLE,
                    "the model registry is not available yet: database schema migration has not completed ("
                            + migrator.failure() + ")",
                    null,
                    "registry_unavailable");
        }
    }

    private Model existingModel(String name) {
        return Queries.model(em, name).orElseThrow(() -> modelNotFound(name));
    }

    private static RegistryException modelNotFound(String name) {
        return RegistryException.notFound("model " + name + " does not exist", "model", "model_not_found");
    }

    private ModelVersion existingVersion(Model model, String versionText) {
        SemanticVersion version = RegistryRules.check(() -> SemanticVersion.parse(versionText));
        return Queries.version(em, model, version)
                .orElseThrow(() -> RegistryException.notFound(
                        "model " + model.name() + " has no version " + versionText, "version", "version_not_found"));
    }

    private List<ModelVersion> versionsOf(Model model) {
        return em.createNamedQuery(ModelVersion.BY_MODEL, ModelVersion.class)
                .setParameter("model", model)
                .getResultList();
    }

    /** Tells the serving tier about each transition made (observed after commit); nobody to tell outside a container. */
    private void announce(StageChangeResult result) {
        if (stageChanged == null) return;
        for (TransitionInfo t : result.transitions()) {
            stageChanged.fire(new ModelStageChanged(
                    t.model(), t.version(), t.from() == null ? null : t.from().name(), t.to().name()));
        }
    }
}
