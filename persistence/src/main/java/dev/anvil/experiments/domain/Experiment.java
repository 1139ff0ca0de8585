package dev.anvil.experiments.domain;

import jakarta.persistence.CascadeType;
import jakarta.persistence.Column;
import jakarta.persistence.Convert;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.NamedQuery;
import jakarta.persistence.OneToMany;
import jakarta.persistence.OrderBy;
import jakarta.persistence.Table;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * An experiment over versions of one model. Owns its invariants: at least two variants with distinct names,
 * exactly one control, weights that sum to 100 percent, the strategy's own rules (a SHADOW control takes all
 * live traffic; a CANARY has one candidate and increasing canary steps ending at 100), and the status
 * lifecycle ({@link ExperimentStatus#successors()}), and a canary's stepping and automatic rollback
 * ({@link #superviseCanary}). Every change appends an {@link ExperimentEvent}.
 */
@Entity
@Table(name = "experiment")
@NamedQuery(name = Experiment.BY_NAME, query = "select e from Experiment e where e.name = :name")
@NamedQuery(name = Experiment.ALL, query = "select e from Experiment e order by e.name")
public class Experiment {

    public static final String BY_NAME = "Experiment.byName";
    public static final String ALL = "Experiment.all";

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "name", nullable = false, length = 128, updatable = false)
    private String name;

    @Column(name = "model_name", nullable = false, length = 128, updatable = false)
    private String modelName;

    @Convert(converter = Converters.StrategyConverter.class)
    @Column(name = "strategy", nullable = false, length = 16, updatable = false)
    private ExperimentStrategy strategy;

    @Convert(converter = Converters.StatusConverter.class)
    @Column(name = "status", nullable = false, length = 16)
    private ExperimentStatus status;

    @Column(name = "hypothesis", length = ExperimentText.MAX_HYPOTHESIS, updatable = false)
    private String hypothesis;

    @Convert(converter = Converters.MetricConverter.class)
    @Column(name = "primary_metric", nullable = false, length = 32, updatable = false)
    private PrimaryMetric primaryMetric;

    @Column(name = "max_error_rate", updatable = false)
    private Double maxErrorRate;

    @Column(name = "max_p95_latency_ms", updatable = false)
    private Long maxP95LatencyMs;

    @Column(name = "max_negative_feedback_rate", updatable = false)
    private Double maxNegativeFeedbackRate;

    @Column(name = "minimum_sample", nullable = false, updatable = false)
    private int minimumSample;

    @Column(name = "canary_steps", length = 128, updatable = false)
    private String canarySteps;

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    @Column(name = "created_by", nullable = false, length = ExperimentText.MAX_ACTOR, updatable = false)
    private String createdBy;

    @Column(name = "started_at")
    private Instant startedAt;

    @Column(name = "ended_at")
    private Instant endedAt;

    @Column(name = "end_reason", length = ExperimentText.MAX_REASON)
    private String endReason;

    @OneToMany(mappedBy = "experiment", cascade = CascadeType.PERSIST)
    @OrderBy("id")
    private List<Variant> variants = new ArrayList<>();

    @OneToMany(mappedBy = "experiment", cascade = CascadeType.PERSIST)
    @OrderBy("id")
    private List<ExperimentEvent> events = new ArrayList<>();

    protected Experiment() {
        // for JPA
    }

    public Experiment(
            String name,
            String modelName,
            ExperimentStrategy strategy,
            String hypothesis,
            PrimaryMetric primaryMetric,
            Guardrails guardrails,
            String canarySteps,
            List<VariantSpec> variants,
            String actor,
            Instant at) {
        this.name = ExperimentText.require("name", name, ExperimentText.NAME, "experiment name");
        this.modelName = ExperimentText.require("model", modelName, ExperimentText.NAME, "model name");
        this.strategy = Objects.requireNonNull(strategy, "strategy");
        this.primaryMetric = Objects.requireNonNull(primaryMetric, "primaryMetric");
        this.hypothesis = ExperimentText.optional("hypothesis", hypothesis, ExperimentText.MAX_HYPOTHESIS);
        Guardrails g = Objects.requireNonNull(guardrails, "guardrails");
        this.maxErrorRate = g.maxErrorRate();
        this.maxP95LatencyMs = g.maxP95LatencyMs();
        this.maxNegativeFeedbackRate = g.maxNegativeFeedbackRate();
        this.minimumSample = g.minimumSample();
        this.createdBy = ExperimentText.requireActor(actor);
        this.createdAt = at.truncatedTo(ChronoUnit.MICROS);
        this.status = ExperimentStatus.DRAFT;

        if (variants == null || variants.size() < 2) {
            throw new InvalidExperimentException(
                    "variants",
                    "an experiment needs at least two variants (a control and a candidate), got "
                            + (variants == null ? 0 : variants.size()));
        }
        Set<String> names = new HashSet<>();
        for (VariantSpec spec : variants) {
            Variant v = new Variant(this, spec);
            if (!names.add(v.name())) {
                throw new InvalidExperimentException(
                        "variants.name", "variant name " + v.name() + " appears more than once");
            }
            this.variants.add(v);
        }
        long controls = this.variants.stream().filter(Variant::control).count();
        if (controls != 1) {
            throw new InvalidExperimentException(
                    "variants.control", "exactly one variant must be the control, got " + controls);
        }
        checkWeightsSum(this.variants.stream().collect(Collectors.toMap(Variant::name, Variant::weightPercent)));

        if (strategy == ExperimentStrategy.CANARY) {
            if (this.variants.size() != 2) {
                throw new InvalidExperimentException(
                        "variants",
                        "a CANARY experiment has exactly two variants (control and candidate), got "
                                + this.variants.size());
            }
            this.canarySteps = CanarySteps.format(CanarySteps.parse(canarySteps));
        } else if (canarySteps != null && !canarySteps.isBlank()) {
            throw new InvalidExperimentException(
                    "canarySteps", "canarySteps apply to CANARY experiments only, not " + strategy);
        }
        if (strategy == ExperimentStrategy.SHADOW) {
            checkShadowWeights(this.variants.stream().collect(Collectors.toMap(Variant::name, Variant::weightPercent)));
        }
        events.add(new ExperimentEvent(
                this, ExperimentEvent.Action.CREATED, null, ExperimentStatus.DRAFT, createdBy, null, createdAt));
    }

    // --- lifecycle -----------------------------------------------------------------------------------

    /**
     * DRAFT to RUNNING. A CANARY starts its candidate at the first canary step. The event's reason records the split
     * traffic starts with ({@code weights {a=50, b=50}}, as a weight change writes it), so the history holds every
     * split the experiment ran with, the first included.
     */
    public ExperimentEvent start(String actor, Instant at) {
        Map<String, Integer> split = new TreeMap<>();
        for (Variant v : variants) split.put(v.name(), v.weightPercent());
        int first = strategy == ExperimentStrategy.CANARY
                ? CanarySteps.parse(canarySteps).get(0)
                : -1;
        if (first >= 0) {
            split.put(candidate().name(), first);
            split.put(control().name(), 100 - first);
        }
        ExperimentEvent event =
                move(ExperimentStatus.RUNNING, ExperimentEvent.Action.STARTED, actor, "weights " + split, at);
        startedAt = event.occurredAt();
        if (first >= 0) {
            candidate().weightPercent(first);
            control().weightPercent(100 - first);
        }
        return event;
    }

    public ExperimentEvent pause(String actor, String reason, Instant at) {
        return move(ExperimentStatus.PAUSED, ExperimentEvent.Action.PAUSED, actor, reason, at);
    }

    public ExperimentEvent resume(String actor, Instant at) {
        if (status != ExperimentStatus.PAUSED) {
            throw new IllegalExperimentTransitionException(
                    status,
                    ExperimentStatus.RUNNING,
                    "experiment " + name + " is " + status + ", not PAUSED: only a paused experiment can be resumed");
        }
        return move(ExperimentStatus.RUNNING, ExperimentEvent.Action.RESUMED, actor, null, at);
    }

    public ExperimentEvent complete(String actor, String reason, Instant at) {
        ExperimentEvent event = move(ExperimentStatus.COMPLETED, ExperimentEvent.Action.COMPLETED, actor, reason, at);
        endedAt = event.occurredAt();
        endReason = event.reason();
        return event;
    }

    /** Ends the experiment in favour of the control; a reason is required (it is the post-mortem's first line). */
    public ExperimentEvent rollBack(String actor, String reason, Instant at) {
        if (reason == null || reason.isBlank()) {
            throw new InvalidExperimentException("reason", "a rollback needs a reason");
        }
        ExperimentEvent event =
                move(ExperimentStatus.ROLLED_BACK, ExperimentEvent.Action.ROLLED_BACK, actor, reason, at);
        endedAt = event.occurredAt();
        endReason = event.reason();
        return event;
    }

    private ExperimentEvent move(
            ExperimentStatus target, ExperimentEvent.Action action, String actor, String reason, Instant at) {
        String who = ExperimentText.requireActor(actor);
        String why = ExperimentText.optional("reason", reason, ExperimentText.MAX_REASON);
        if (!status.canMoveTo(target)) {
            throw new IllegalExperimentTransitionException(
                    status,
                    target,
                    "experiment " + name + " cannot move from " + status + " to " + target + " (allowed from " + status
                            + ": " + status.successors() + ")");
        }
        ExperimentStatus from = status;
        status = target;
        ExperimentEvent event =
                new ExperimentEvent(this, action, from, target, who, why, at.truncatedTo(ChronoUnit.MICROS));
        events.add(event);
        return event;
    }

    /**
     * Sets new traffic weights (variant name to percent). Every variant must be named, the sum must be 100, and a
     * SHADOW control keeps 100. Final experiments refuse the change.
     */
    public ExperimentEvent adjustWeights(Map<String, Integer> weights, String actor, String reason, Instant at) {
        String who = ExperimentText.requireActor(actor);
        String why = ExperimentText.optional("reason", reason, ExperimentText.MAX_REASON);
        if (status.isFinal()) {
            throw new IllegalExperimentTransitionException(
                    status,
                    null,
                    "experiment " + name + " is " + status + ": the weights of a finished experiment cannot change");
        }
        if (weights == null || weights.isEmpty()) {
            throw new InvalidExperimentException("weights", "weights are required (variant name to percent)");
        }
        Set<String> known = variants.stream().map(Variant::name).collect(Collectors.toSet());
        for (String n : weights.keySet()) {
            if (!known.contains(n)) {
                throw new InvalidExperimentException(
                        "weights",
                        "experiment " + name + " has no variant " + n + " (variants: "
                                + new TreeMap<>(variants.stream()
                                                .collect(Collectors.toMap(Variant::name, Variant::weightPercent)))
                                        .keySet()
                                + ")");
            }
        }
        for (String n : known) {
            if (weights.get(n) == null) {
                throw new InvalidExperimentException("weights", "weights must name every variant; missing " + n);
            }
            Variant.checkWeight(n, weights.get(n));
        }
        checkWeightsSum(weights);
        if (strategy == ExperimentStrategy.SHADOW) checkShadowWeights(weights);
        for (Variant v : variants) v.weightPercent(weights.get(v.name()));
        String description = new TreeMap<>(weights).toString();
        ExperimentEvent event = new ExperimentEvent(
                this,
                ExperimentEvent.Action.WEIGHTS_CHANGED,
                status,
                status,
                who,
                why == null ? "weights " + description : why + " (weights " + description + ")",
                at.truncatedTo(ChronoUnit.MICROS));
        if (event.reason().length() > ExperimentText.MAX_REASON) {
            throw new InvalidExperimentException("reason", "reason is too long");
        }
        events.add(event);
        return event;
    }

    // --- canary supervision --------------------------------------------------------------------------

    /**
     * When the candidate's current canary step began: the last start, resume or weight change (each resets what
     * the step has seen), else the start. The controller counts the candidate's outcomes from here.
     */
    public Instant canaryStepSince() {
        return events.stream()
                .filter(ev -> ev.action() == ExperimentEvent.Action.STARTED
                        || ev.action() == ExperimentEvent.Action.RESUMED
                        || ev.action() == ExperimentEvent.Action.WEIGHTS_CHANGED)
                .map(ExperimentEvent::occurredAt)
                .max(Instant::compareTo)
                .orElse(startedAt);
    }

    /**
     * One supervision pass over a RUNNING CANARY, on what the controller {@code observed} of its candidate: a
     * guardrail breach rolls the experiment back (all traffic to the control, the breaches as the reason in its
     * history), whatever the step; otherwise, once the candidate has served {@link Guardrails#minimumSample()}
     * outcomes in its current step, it moves to the next canary step (a weight change). At the last step (100 %) the
     * rollout waits for an operator's {@link #complete}. Anything but a running canary is left as it is.
     */
    public CanaryDecision superviseCanary(CanaryObservation observed, String actor, Instant at) {
        if (status != ExperimentStatus.RUNNING || strategy != ExperimentStrategy.CANARY) {
            return new CanaryDecision.Held(
                    "experiment " + name + " is a " + status + " " + strategy + ", not a running canary");
        }
        Variant candidate = candidate();
        Variant control = control();
        int current = candidate.weightPercent();
        if (!observed.guardrailBreaches().isEmpty()) {
            String reason = "automatic rollback: candidate " + candidate.name() + " (" + modelName + "@"
                    + candidate.modelVersion()
                    + ") at " + current + "% breached its guardrails over " + observed.outcomes() + " outcomes: "
                    + String.join("; ", observed.guardrailBreaches()) + "; all traffic back to control "
                    + control.name();
            if (reason.length() > ExperimentText.MAX_REASON) reason = reason.substring(0, ExperimentText.MAX_REASON);
            rollBack(actor, reason, at);
            return new CanaryDecision.RolledBack(reason);
        }
        Integer next = canaryStepList().stream()
                .filter(step -> step > current)
                .findFirst()
                .orElse(null);
        if (next == null) return new CanaryDecision.FullRollout();
        if (observed.outcomesThisStep() < minimumSample) {
            return new CanaryDecision.Held("candidate " + candidate.name() + " served " + observed.outcomesThisStep()
                    + " of the " + minimumSample + " outcomes its " + current + "% step needs");
        }
        Map<String, Integer> weights = new LinkedHashMap<>();
        weights.put(control.name(), 100 - next);
        weights.put(candidate.name(), next);
        adjustWeights(
                weights,
                actor,
                "canary step " + current + "% -> " + next + "%: guardrails held over " + observed.outcomesThisStep()
                        + " candidate outcomes",
                at);
        return new CanaryDecision.SteppedUp(current, next);
    }

    private static void checkWeightsSum(Map<String, Integer> weights) {
        int sum = weights.values().stream().mapToInt(Integer::intValue).sum();
        if (sum != 100) {
            throw new InvalidExperimentException(
                    "weights", "variant weights must sum to 100 percent, got " + sum + " " + new TreeMap<>(weights));
        }
    }

    private void checkShadowWeights(Map<String, Integer> weights) {
        String control = control().name();
        if (weights.get(control) != 100) {
            throw new InvalidExperimentException(
                    "weights",
                    "in a SHADOW experiment the control (" + control
                            + ") serves all live traffic: its weight must be 100, got " + weights.get(control));
        }
    }

    // --- accessors -----------------------------------------------------------------------------------

    public Variant control() {
        return variants.stream().filter(Variant::control).findFirst().orElseThrow();
    }

    /** The single non-control variant of a CANARY experiment. */
    public Variant candidate() {
        return variants.stream().filter(v -> !v.control()).findFirst().orElseThrow();
    }

    public Variant variant(String variantName) {
        return variants.stream()
                .filter(v -> v.name().equals(variantName))
                .findFirst()
                .orElse(null);
    }

    public Guardrails guardrails() {
        return new Guardrails(maxErrorRate, maxP95LatencyMs, maxNegativeFeedbackRate, minimumSample);
    }

    /** The canary steps in percent (empty unless CANARY). */
    public List<Integer> canaryStepList() {
        return canarySteps == null ? List.of() : CanarySteps.parse(canarySteps);
    }

    public Long id() {
        return id;
    }

    public String name() {
        return name;
    }

    public String modelName() {
        return modelName;
    }

    public ExperimentStrategy strategy() {
        return strategy;
    }

    public ExperimentStatus status() {
        return status;
    }

    public String hypothesis() {
        return hypothesis;
    }

    public PrimaryMetric primaryMetric() {
        return primaryMetric;
    }

    public String canarySteps() {
        return canarySteps;
    }

    public Instant createdAt() {
        return createdAt;
    }

    public String createdBy() {
        return createdBy;
    }

    public Instant startedAt() {
        return startedAt;
    }

    public Instant endedAt() {
        return endedAt;
    }

    public String endReason() {
        return endReason;
    }

    public List<Variant> variants() {
        return Collections.unmodifiableList(variants);
    }

    public List<ExperimentEvent> events() {
        return Collections.unmodifiableList(events);
    }
}
