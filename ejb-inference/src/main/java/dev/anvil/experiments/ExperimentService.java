package dev.anvil.experiments;

import dev.anvil.experiments.domain.Assignment;
import dev.anvil.experiments.domain.CanaryDecision;
import dev.anvil.experiments.domain.CanaryObservation;
import dev.anvil.experiments.domain.Experiment;
import dev.anvil.experiments.domain.ExperimentStatus;
import dev.anvil.experiments.domain.ExperimentStrategy;
import dev.anvil.experiments.domain.Feedback;
import dev.anvil.experiments.domain.FeedbackScale;
import dev.anvil.experiments.domain.Guardrails;
import dev.anvil.experiments.domain.Outcome;
import dev.anvil.experiments.domain.PrimaryMetric;
import dev.anvil.experiments.domain.ShadowComparison;
import dev.anvil.experiments.domain.Variant;
import dev.anvil.registry.SchemaMigrator;
import dev.anvil.registry.domain.Model;
import dev.anvil.registry.domain.ModelVersion;
import dev.anvil.registry.domain.SemanticVersion;
import dev.anvil.registry.domain.Stage;
import dev.anvil.security.Callers;
import dev.anvil.security.Roles;
import jakarta.annotation.Resource;
import jakarta.annotation.security.PermitAll;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.ejb.SessionContext;
import jakarta.ejb.Stateless;
import jakarta.enterprise.event.Event;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import jakarta.persistence.PersistenceException;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Experiments over registered model versions: creation, lifecycle, traffic weights, sticky assignment, outcome
 * and feedback recording, and results. The request path (routing live traffic by strategy) calls
 * {@link #routable} and {@link #assign}, {@code /v1/feedback} calls {@link #recordFeedback}: those are open to any
 * caller. Everything else is the admin API's and the experiment controller's (run as {@link Roles#ADMIN}), and
 * checks that role here too; the actor of a change is the caller's principal. Every failure the client can act on
 * is an {@link ExperimentException}; refused requests write nothing.
 *
 * <p>Lifecycle and weight changes lock the experiment row first, so concurrent changes serialise and each sees
 * the previous one's result.
 */
@Stateless
@RolesAllowed(Roles.ADMIN)
public class ExperimentService {

    /** Posterior draws per Thompson allocation: the win-probability estimates then have a standard error under 0.5%. */
    static final int THOMPSON_DRAWS = 20_000;

    @PersistenceContext(unitName = "anvil")
    EntityManager em;

    @Resource
    SessionContext session;

    @EJB
    SchemaMigrator migrator;

    @EJB
    AssignmentRecorder assignments;

    @Inject
    ExperimentsConfig config;

    /** Tells the request router to re-read the routable experiments once the change commits. */
    @Inject
    Event<ExperimentsChanged> changed;

    Clock clock = Clock.systemUTC();

    // --- definition ----------------------------------------------------------------------------------

    public ExperimentInfo create(CreateExperimentCommand c) {
        requireMigrated();
        String actor = Callers.actor(session);
        if (c == null) throw ExperimentException.badRequest("a JSON request body is required", null, "missing_body");
        if (c.name() != null && findByName(c.name()) != null) {
            throw ExperimentException.conflict(
                    "experiment " + c.name() + " already exists", "name", "experiment_exists");
        }
        Experiment experiment = ExperimentRules.check(() -> new Experiment(
                c.name(),
                c.model(),
                ExperimentStrategy.parse(c.strategy()),
                c.hypothesis(),
                PrimaryMetric.parse(c.primaryMetric()),
                new Guardrails(
                        c.maxErrorRate(),
                        c.maxP95LatencyMs(),
                        c.maxNegativeFeedbackRate(),
                        c.minimumSample() == null ? Guardrails.DEFAULT_MINIMUM_SAMPLE : c.minimumSample()),
                c.canarySteps(),
                c.variants(),
                actor,
                clock.instant()));
        checkModelVersions(experiment);
        try {
            em.persist(experiment);
            em.flush();
        } catch (PersistenceException e) {
            if (isConstraintViolation(e)) {
                throw ExperimentException.conflict(
                        "experiment " + c.name() + " already exists", "name", "experiment_exists");
            }
            throw e;
        }
        fireChanged(experiment.name());
        return ExperimentInfo.of(experiment);
    }

    private void fireChanged(String name) {
        if (changed != null) changed.fire(new ExperimentsChanged(name));
    }

    public List<ExperimentInfo> list() {
        requireMigrated();
        return em.createNamedQuery(Experiment.ALL, Experiment.class).getResultList().stream()
                .map(ExperimentInfo::of)
                .toList();
    }

    public ExperimentInfo get(String name) {
        requireMigrated();
        return ExperimentInfo.of(existing(name, false));
    }

    // --- lifecycle -----------------------------------------------------------------------------------

    public ExperimentInfo start(String name) {
        String actor = Callers.actor(session);
        return change(name, e -> {
            // The registry may have archived a version since the experiment was created.
            checkModelVersions(e);
            e.start(actor, clock.instant());
        });
    }

    public ExperimentInfo pause(String name, String reason) {
        String actor = Callers.actor(session);
        return change(name, e -> e.pause(actor, reason, clock.instant()));
    }

    public ExperimentInfo resume(String name) {
        String actor = Callers.actor(session);
        return change(name, e -> e.resume(actor, clock.instant()));
    }

    public ExperimentInfo complete(String name, String reason) {
        String actor = Callers.actor(session);
        return change(name, e -> e.complete(actor, reason, clock.instant()));
    }

    public ExperimentInfo rollBack(String name, String reason) {
        String actor = Callers.actor(session);
        return change(name, e -> e.rollBack(actor, reason, clock.instant()));
    }

    public ExperimentInfo adjustWeights(String name, Map<String, Integer> weights, String reason) {
        String actor = Callers.actor(session);
        return change(name, e -> e.adjustWeights(weights, actor, reason, clock.instant()));
    }

    /**
     * Sets a BANDIT experiment's weights to its Thompson-sampling allocation (see {@link #banditAllocation}),
     * recorded as a weight change.
     */
    public ExperimentInfo rebalance(String name) {
        String actor = Callers.actor(session);
        return change(name, e -> {
            if (e.strategy() != ExperimentStrategy.BANDIT) {
                throw ExperimentException.conflict(
                        "experiment " + name + " is " + e.strategy()
                                + ": only BANDIT experiments are rebalanced by Thompson sampling",
                        "strategy",
                        "not_a_bandit");
            }
            List<Integer> allocation = banditAllocation(e, samples(e));
            Map<String, Integer> weights = new LinkedHashMap<>();
            for (int i = 0; i < e.variants().size(); i++)
                weights.put(e.variants().get(i).name(), allocation.get(i));
            e.adjustWeights(weights, actor, "Thompson sampling rebalance", clock.instant());
        });
    }

    private interface Change {
        void apply(Experiment e);
    }

    private ExperimentInfo change(String name, Change change) {
        requireMigrated();
        Experiment e = existing(name, true);
        ExperimentRules.check(() -> {
            change.apply(e);
            return null;
        });
        em.flush();
        fireChanged(e.name());
        return ExperimentInfo.of(e);
    }

    // --- controller ----------------------------------------------------------------------------------

    /**
     * One controller pass over a RUNNING CANARY experiment, with its row locked: gathers what the candidate did (its
     * guardrail breaches over all its outcomes, its outcomes in the current step) and lets
     * {@link Experiment#superviseCanary} decide (roll back, step up, hold, or wait at full rollout for an operator);
     * a change is saved and announced to the router.
     */
    public CanaryDecision superviseCanary(String name) {
        requireMigrated();
        String actor = Callers.actor(session);
        Experiment e = existing(name, true);
        if (e.status() != ExperimentStatus.RUNNING || e.strategy() != ExperimentStrategy.CANARY) {
            // It changed since the controller listed it: nothing to gather, the experiment says why it holds.
            return e.superviseCanary(new CanaryObservation(0, List.of(), 0), actor, clock.instant());
        }
        Variant candidate = e.candidate();
        List<OutcomeSample> candidateSamples = samples(e).stream()
                .filter(s -> s.variant().equals(candidate.name()))
                .toList();
        var result = ResultsCalculator.variantResult(
                new ResultsCalculator.VariantInfo(candidate.name(), false, candidate.weightPercent()),
                0,
                candidateSamples,
                e.guardrails());
        long thisStep = em.createQuery(
                        "select count(o) from Outcome o where o.variant = :v and o.createdAt >= :since", Long.class)
                .setParameter("v", candidate)
                .setParameter("since", e.canaryStepSince())
                .getSingleResult();
        CanaryDecision decision = e.superviseCanary(
                new CanaryObservation(candidateSamples.size(), result.guardrailBreaches(), thisStep),
                actor,
                clock.instant());
        if (decision.changed()) {
            em.flush();
            fireChanged(e.name());
        }
        return decision;
    }

    /** Rebalances a RUNNING BANDIT experiment when its Thompson allocation differs from its weights; true if it did. */
    public boolean rebalanceIfChanged(String name) {
        requireMigrated();
        String actor = Callers.actor(session);
        Experiment e = existing(name, true);
        if (e.status() != ExperimentStatus.RUNNING || e.strategy() != ExperimentStrategy.BANDIT) return false;
        List<Integer> allocation = banditAllocation(e, samples(e));
        Map<String, Integer> weights = new LinkedHashMap<>();
        boolean same = true;
        for (int i = 0; i < e.variants().size(); i++) {
            weights.put(e.variants().get(i).name(), allocation.get(i));
            same &= e.variants().get(i).weightPercent() == allocation.get(i);
        }
        if (same) return false;
        e.adjustWeights(weights, actor, "Thompson sampling rebalance", clock.instant());
        em.flush();
        fireChanged(e.name());
        return true;
    }

    /** Names of the RUNNING experiments of {@code strategy}. */
    @PermitAll
    public List<String> running(ExperimentStrategy strategy) {
        requireMigrated();
        return em.createNamedQuery(Experiment.ALL, Experiment.class).getResultList().stream()
                .filter(e -> e.status() == ExperimentStatus.RUNNING && e.strategy() == strategy)
                .map(Experiment::name)
                .toList();
    }

    /** The RUNNING and PAUSED experiments, as the request router routes by them. */
    @PermitAll
    public List<LiveExperiment> routable() {
        requireMigrated();
        List<LiveExperiment> live = new ArrayList<>();
        for (Experiment e :
                em.createNamedQuery(Experiment.ALL, Experiment.class).getResultList()) {
            if (e.status() != ExperimentStatus.RUNNING && e.status() != ExperimentStatus.PAUSED) continue;
            live.add(new LiveExperiment(
                    e.id(),
                    e.name(),
                    e.modelName(),
                    e.strategy().name(),
                    e.status().name(),
                    e.variants().stream()
                            .map(v -> new LiveExperiment.Variant(
                                    v.id(),
                                    v.name(),
                                    v.modelVersion(),
                                    v.temperature(),
                                    v.topP(),
                                    v.maxTokens(),
                                    v.systemPrompt(),
                                    v.weightPercent(),
                                    v.control()))
                            .toList()));
        }
        return live;
    }

    // --- request path --------------------------------------------------------------------------------

    /**
     * The variant that serves {@code key} (a user or session id) in a RUNNING experiment: the variant recorded at the
     * subject's first request if there is one (weights may have changed since; the subject stays put), else the
     * variant owning the key's hash bucket under the current weights, recorded now. SHADOW experiments serve every
     * subject from the control and name the shadow variants.
     */
    @PermitAll
    public AssignmentInfo assign(String name, String key) {
        requireMigrated();
        if (key == null || key.isBlank()) {
            throw ExperimentException.badRequest(
                    "a subject key is required (e.g. ?key=user-123)", "key", "missing_key");
        }
        if (key.length() > 512)
            throw ExperimentException.badRequest("the subject key is longer than 512 characters", "key", "invalid_key");
        Experiment e = existing(name, false);
        if (e.status() != ExperimentStatus.RUNNING) {
            throw ExperimentException.conflict(
                    "experiment " + name + " is " + e.status() + ", not RUNNING: it assigns no traffic",
                    "status",
                    "experiment_not_running");
        }
        int bucket = StickyAssignment.bucket(e.name(), key);
        String hash = StickyAssignment.keyHash(key);
        List<String> shadows = e.strategy() == ExperimentStrategy.SHADOW
                ? e.variants().stream()
                        .filter(v -> !v.control())
                        .map(Variant::name)
                        .toList()
                : List.of();
        Assignment existing = findAssignment(e, hash);
        if (existing != null) {
            return AssignmentInfo.of(e, existing.variant(), bucket, existing.firstSeen(), false, shadows);
        }
        Variant chosen;
        if (e.strategy() == ExperimentStrategy.SHADOW) {
            chosen = e.control();
        } else {
            List<StickyAssignment.Arm> arms = e.variants().stream()
                    .map(v -> new StickyAssignment.Arm(v.name(), v.weightPercent()))
                    .toList();
            chosen = e.variant(StickyAssignment.pick(arms, bucket).name());
        }
        Instant now = clock.instant();
        try {
            assignments.record(e.id(), chosen.id(), hash, now);
        } catch (AssignmentRecorder.AlreadyAssigned raced) {
            Assignment winner = findAssignment(e, hash);
            if (winner == null)
                throw new IllegalStateException(
                        "assignment of a subject in " + name + " reported taken but not found", raced);
            return AssignmentInfo.of(e, winner.variant(), bucket, winner.firstSeen(), false, shadows);
        }
        return AssignmentInfo.of(
                e, chosen, bucket, now.truncatedTo(java.time.temporal.ChronoUnit.MICROS), true, shadows);
    }

    /**
     * Records how one response served by a variant went. Accepted while the experiment is RUNNING or PAUSED
     * (in-flight responses of a just-paused experiment still count); a response id is recorded once.
     */
    public OutcomeInfo recordOutcome(String name, RecordOutcomeCommand c) {
        requireMigrated();
        if (c == null) throw ExperimentException.badRequest("a JSON request body is required", null, "missing_body");
        Experiment e = existing(name, false);
        if (e.status() != ExperimentStatus.RUNNING && e.status() != ExperimentStatus.PAUSED) {
            throw ExperimentException.conflict(
                    "experiment " + name + " is " + e.status()
                            + ": outcomes are recorded only while it is RUNNING or PAUSED",
                    "status",
                    "experiment_not_running");
        }
        if (c.variant() == null || c.variant().isBlank())
            throw ExperimentException.badRequest("variant is required", "variant", "missing_variant");
        Variant variant = e.variant(c.variant());
        if (variant == null) {
            throw ExperimentException.badRequest(
                    "experiment " + name + " has no variant " + c.variant() + " (variants: "
                            + e.variants().stream().map(Variant::name).toList() + ")",
                    "variant",
                    "unknown_variant");
        }
        require(c.latencyMs(), "latencyMs");
        if (c.responseId() != null
                && !em.createNamedQuery(Outcome.BY_RESPONSE, Outcome.class)
                        .setParameter("responseId", c.responseId())
                        .getResultList()
                        .isEmpty()) {
            throw ExperimentException.conflict(
                    "an outcome for response " + c.responseId() + " is already recorded",
                    "responseId",
                    "outcome_exists");
        }
        Outcome o = ExperimentRules.check(() -> new Outcome(
                variant,
                c.responseId(),
                c.latencyMs(),
                c.ttftMs(),
                c.promptTokens() == null ? 0 : c.promptTokens(),
                c.completionTokens() == null ? 0 : c.completionTokens(),
                Boolean.TRUE.equals(c.error()),
                c.cost() == null ? 0 : c.cost(),
                clock.instant()));
        try {
            em.persist(o);
            em.flush();
        } catch (PersistenceException ex) {
            if (isConstraintViolation(ex)) {
                throw ExperimentException.conflict(
                        "an outcome for response " + c.responseId() + " is already recorded",
                        "responseId",
                        "outcome_exists");
            }
            throw ex;
        }
        return new OutcomeInfo(
                o.id(),
                e.name(),
                variant.name(),
                o.responseId(),
                o.latencyMs(),
                o.ttftMs(),
                o.promptTokens(),
                o.completionTokens(),
                o.error(),
                o.cost(),
                o.createdAt());
    }

    private static void require(Object value, String field) {
        if (value == null)
            throw ExperimentException.badRequest(
                    field + " is required", field, "missing_" + ExperimentRules.snake(field));
    }

    /**
     * Checks a rating without storing it (400 for a missing response id, a rating outside its scale, an unknown
     * scale, an overlong comment), so that a malformed rating is refused as such before anyone looks up the response.
     */
    @PermitAll
    public void checkFeedback(String responseId, Integer rating, String scale, String comment) {
        ExperimentRules.check(
                () -> new Feedback(responseId, FeedbackScale.parse(scale), rating, comment, clock.instant()));
    }

    /**
     * Stores the rating of one response (of any response: feedback is not limited to experiment traffic). One rating
     * per response: a later one replaces the earlier (the web tier has checked that the caller received the
     * response). The row is locked while it is replaced, so concurrent ratings apply one after the other; two first
     * ratings racing to insert leave one, the other is a 409 to retry.
     */
    @PermitAll
    public FeedbackInfo recordFeedback(String responseId, Integer rating, String scale, String comment) {
        requireMigrated();
        Feedback fresh = ExperimentRules.check(
                () -> new Feedback(responseId, FeedbackScale.parse(scale), rating, comment, clock.instant()));
        Feedback f = em.createNamedQuery(Feedback.BY_RESPONSE, Feedback.class)
                .setParameter("responseId", fresh.responseId())
                .setLockMode(LockModeType.PESSIMISTIC_WRITE)
                .getResultStream()
                .findFirst()
                .orElse(null);
        if (f == null) {
            f = fresh;
            try {
                em.persist(f);
                em.flush();
            } catch (PersistenceException ex) {
                if (isConstraintViolation(ex)) {
                    throw ExperimentException.conflict(
                            "response " + fresh.responseId() + " is being rated by another request at the same "
                                    + "time; send the rating again",
                            "response_id",
                            "feedback_conflict");
                }
                throw ex;
            }
        } else {
            Feedback existing = f;
            ExperimentRules.check(() -> {
                existing.replace(fresh.scale(), fresh.rating(), fresh.comment(), fresh.createdAt());
                return existing;
            });
        }
        Outcome rated = em.createNamedQuery(Outcome.BY_RESPONSE, Outcome.class)
                .setParameter("responseId", f.responseId())
                .getResultStream()
                .findFirst()
                .orElse(null);
        return new FeedbackInfo(
                f.id(),
                f.responseId(),
                f.scale().name().toLowerCase(java.util.Locale.ROOT),
                f.rating(),
                f.negative(),
                f.comment(),
                f.createdAt(),
                rated == null ? null : rated.experiment().name(),
                rated == null ? null : rated.variant().name());
    }

    // --- results -------------------------------------------------------------------------------------

    public ExperimentResults results(String name) {
        requireMigrated();
        Experiment e = existing(name, false);
        List<OutcomeSample> samples = samples(e);
        Map<String, Long> assigned = new HashMap<>();
        Map<Long, String> variantNames = new HashMap<>();
        for (Variant v : e.variants()) variantNames.put(v.id(), v.name());
        for (Object[] row : em.createNamedQuery(Assignment.COUNT_BY_VARIANT, Object[].class)
                .setParameter("experiment", e)
                .getResultList()) {
            assigned.put(variantNames.get((Long) row[0]), (Long) row[1]);
        }
        List<ResultsCalculator.VariantInfo> variants = e.variants().stream()
                .map(v -> new ResultsCalculator.VariantInfo(v.name(), v.control(), v.weightPercent()))
                .toList();
        ExperimentResults results = ResultsCalculator.calculate(
                e.name(),
                e.status().name(),
                e.strategy().name(),
                e.primaryMetric(),
                e.guardrails(),
                variants,
                assigned,
                samples,
                e.strategy() == ExperimentStrategy.BANDIT ? banditAllocation(e, samples) : null);
        if (e.strategy() != ExperimentStrategy.SHADOW) return results;
        Map<String, List<ResultsCalculator.ShadowSample>> byVariant = new LinkedHashMap<>();
        for (Variant v : e.variants()) if (!v.control()) byVariant.put(v.name(), new ArrayList<>());
        for (ShadowComparison c : em.createNamedQuery(ShadowComparison.BY_EXPERIMENT, ShadowComparison.class)
                .setParameter("experiment", e)
                .getResultList()) {
            byVariant
                    .get(c.variant().name())
                    .add(new ResultsCalculator.ShadowSample(
                            c.outputsAgree(),
                            c.similarity(),
                            c.controlCompletionTokens(),
                            c.shadowCompletionTokens(),
                            c.controlChars(),
                            c.shadowChars(),
                            c.controlLatencyMs(),
                            c.shadowLatencyMs(),
                            c.shadowError()));
        }
        return results.withShadow(byVariant.entrySet().stream()
                .map(en -> ResultsCalculator.shadowSummary(en.getKey(), en.getValue()))
                .toList());
    }

    /**
     * Thompson-sampling weights for the variants, in variant order: a success is a response without error and
     * without negative feedback. Seeded from the experiment and its outcome count, so the same data always gives
     * the same allocation (results are reproducible; a new outcome gives a fresh draw).
     */
    List<Integer> banditAllocation(Experiment e, List<OutcomeSample> samples) {
        List<ThompsonSampler.ArmStats> arms = new ArrayList<>();
        for (Variant v : e.variants()) {
            long successes = samples.stream()
                    .filter(s -> s.variant().equals(v.name()))
                    .filter(s -> !s.error() && !Boolean.TRUE.equals(s.negativeFeedback()))
                    .count();
            long total =
                    samples.stream().filter(s -> s.variant().equals(v.name())).count();
            arms.add(new ThompsonSampler.ArmStats(v.name(), successes, total - successes));
        }
        int floor = Math.min(config.banditFloorPercent(), 100 / arms.size());
        return new ThompsonSampler(new SplittableRandom(e.id() * 1_000_003L + samples.size()), THOMPSON_DRAWS)
                .allocate(arms, Math.max(0, floor));
    }

    private List<OutcomeSample> samples(Experiment e) {
        Map<String, Boolean> latestNegative = new HashMap<>();
        for (Object[] row : em.createNamedQuery(Feedback.FOR_EXPERIMENT, Object[].class)
                .setParameter("experiment", e)
                .getResultList()) {
            Feedback f = (Feedback) row[0];
            latestNegative.put(
                    f.responseId(), f.negative()); // one rating per response (the latest replaced earlier ones)
        }
        List<OutcomeSample> samples = new ArrayList<>();
        for (Outcome o : em.createNamedQuery(Outcome.BY_EXPERIMENT, Outcome.class)
                .setParameter("experiment", e)
                .getResultList()) {
            samples.add(new OutcomeSample(
                    o.variant().name(),
                    o.latencyMs(),
                    o.ttftMs(),
                    o.promptTokens(),
                    o.completionTokens(),
                    o.error(),
                    o.cost(),
                    latestNegative.get(o.responseId())));
        }
        return samples;
    }

    // --- helpers -------------------------------------------------------------------------------------

    /** Every variant's model version must be registered under the experiment's model and not ARCHIVED. */
    private void checkModelVersions(Experiment e) {
        Model model = em.createNamedQuery(Model.BY_NAME, Model.class)
                .setParameter("name", e.modelName())
                .getResultStream()
                .findFirst()
                .orElseThrow(() -> ExperimentException.badRequest(
                        "model " + e.modelName() + " is not registered", "model", "unknown_model"));
        for (Variant v : e.variants()) {
            SemanticVersion version = parseVersion(v);
            ModelVersion mv = em.createNamedQuery(ModelVersion.BY_MODEL_AND_VERSION, ModelVersion.class)
                    .setParameter("model", model)
                    .setParameter("version", version)
                    .getResultStream()
                    .findFirst()
                    .orElseThrow(() -> ExperimentException.badRequest(
                            "variant " + v.name() + ": model " + e.modelName() + " has no version " + v.modelVersion(),
                            "variants.modelVersion",
                            "unknown_model_version"));
            if (mv.stage() == Stage.ARCHIVED) {
                throw ExperimentException.conflict(
                        "variant " + v.name() + ": version " + v.modelVersion() + " of model " + e.modelName()
                                + " is ARCHIVED and cannot serve an experiment",
                        "variants.modelVersion",
                        "model_version_archived");
            }
        }
    }

    private static SemanticVersion parseVersion(Variant v) {
        try {
            return SemanticVersion.parse(v.modelVersion());
        } catch (IllegalArgumentException bad) {
            throw ExperimentException.badRequest(
                    "variant " + v.name() + ": " + bad.getMessage(), "variants.modelVersion", "invalid_model_version");
        }
    }

    private Experiment findByName(String name) {
        return em.createNamedQuery(Experiment.BY_NAME, Experiment.class)
                .setParameter("name", name)
                .getResultStream()
                .findFirst()
                .orElse(null);
    }

    private Experiment existing(String name, boolean lock) {
        var query = em.createNamedQuery(Experiment.BY_NAME, Experiment.class).setParameter("name", name);
        if (lock) query.setLockMode(LockModeType.PESSIMISTIC_WRITE);
        return query.getResultStream()
                .findFirst()
                .orElseThrow(() -> ExperimentException.notFound(
                        "experiment " + name + " does not exist", "name", "experiment_not_found"));
    }

    private Assignment findAssignment(Experiment e, String hash) {
        return em.createNamedQuery(Assignment.BY_SUBJECT, Assignment.class)
                .setParameter("experiment", e)
                .setParameter("subjectHash", hash)
                .getResultStream()
                .findFirst()
                .orElse(null);
    }

    static boolean isConstraintViolation(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SQLException sql
                    && sql.getSQLState() != null
                    && sql.getSQLState().startsWith("23")) return true;
        }
        return false;
    }

    private void requireMigrated() {
        if (!migrator.migrated()) {
            throw new ExperimentException(
                    ExperimentException.Kind.UNAVAILABLE,
                    "experiments are not available yet: database schema migration has not completed ("
                            + migrator.failure() + ")",
                    null,
                    "experiments_unavailable");
        }
    }
}
