package dev.anvil.api.experiments;

import dev.anvil.experiments.AssignmentInfo;
import dev.anvil.experiments.ExperimentInfo;
import dev.anvil.experiments.ExperimentResults;
import dev.anvil.experiments.FeedbackInfo;
import dev.anvil.experiments.OutcomeInfo;
import jakarta.json.bind.annotation.JsonbNillable;
import jakarta.json.bind.annotation.JsonbProperty;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** Response bodies of the experiments API. Absent values are written as null, so every documented key is present. */
final class ExperimentJson {

    private ExperimentJson() {}

    @Schema(name = "Experiment")
    @JsonbNillable
    public record Experiment(
            @Schema(required = true) String name,
            @Schema(required = true) String model,

            @Schema(
                    required = true,
                    type = SchemaType.STRING,
                    enumeration = {"AB", "CANARY", "SHADOW", "BANDIT"})
            String strategy,

            @Schema(
                    required = true,
                    type = SchemaType.STRING,
                    enumeration = {"DRAFT", "RUNNING", "PAUSED", "COMPLETED", "ROLLED_BACK"})
            String status,

            @Schema(nullable = true) String hypothesis,
            @Schema(required = true) String primaryMetric,
            @Schema(nullable = true) Double maxErrorRate,
            @Schema(nullable = true) Long maxP95LatencyMs,
            @Schema(nullable = true) Double maxNegativeFeedbackRate,
            @Schema(required = true) int minimumSample,

            @Schema(required = true, description = "CANARY steps in percent (empty otherwise)")
            List<Integer> canarySteps,

            @Schema(required = true, format = "date-time") Instant createdAt,
            @Schema(required = true) String createdBy,
            @Schema(nullable = true, format = "date-time") Instant startedAt,
            @Schema(nullable = true, format = "date-time") Instant endedAt,
            @Schema(nullable = true) String endReason,
            @Schema(required = true) List<Variant> variants,

            @Schema(required = true, description = "History, oldest first")
            List<Event> events) {

        static Experiment of(ExperimentInfo e) {
            return new Experiment(
                    e.name(),
                    e.model(),
                    e.strategy(),
                    e.status(),
                    e.hypothesis(),
                    e.primaryMetric(),
                    e.maxErrorRate(),
                    e.maxP95LatencyMs(),
                    e.maxNegativeFeedbackRate(),
                    e.minimumSample(),
                    e.canarySteps(),
                    e.createdAt(),
                    e.createdBy(),
                    e.startedAt(),
                    e.endedAt(),
                    e.endReason(),
                    e.variants().stream().map(Variant::of).toList(),
                    e.events().stream().map(Event::of).toList());
        }
    }

    @Schema(name = "ExperimentVariant")
    @JsonbNillable
    public record Variant(
            @Schema(required = true) String name,
            @Schema(required = true) String modelVersion,
            @Schema(nullable = true) Double temperature,
            @Schema(nullable = true) Double topP,
            @Schema(nullable = true) Integer maxTokens,
            @Schema(nullable = true) String systemPrompt,
            @Schema(required = true) int weightPercent,
            @Schema(required = true) boolean control) {
        static Variant of(ExperimentInfo.VariantInfo v) {
            return new Variant(
                    v.name(),
                    v.modelVersion(),
                    v.temperature(),
                    v.topP(),
                    v.maxTokens(),
                    v.systemPrompt(),
                    v.weightPercent(),
                    v.control());
        }
    }

    @Schema(name = "ExperimentEvent")
    @JsonbNillable
    public record Event(
            @Schema(
                    required = true,
                    type = SchemaType.STRING,
                    enumeration = {
                        "CREATED",
                        "STARTED",
                        "PAUSED",
                        "RESUMED",
                        "COMPLETED",
                        "ROLLED_BACK",
                        "WEIGHTS_CHANGED"
                    })
            String action,

            @Schema(nullable = true) String from,
            @Schema(required = true) String to,
            @Schema(required = true) String actor,
            @Schema(required = true, format = "date-time") Instant at,
            @Schema(nullable = true) String reason,

            @Schema(
                    nullable = true,
                    description = "WEIGHTS_CHANGED only: the weight (percent) it gave each variant, e.g. a canary step"
                            + " or a bandit rebalance; null for other events")
            Map<String, Integer> weights) {
        static Event of(ExperimentInfo.EventInfo e) {
            return new Event(e.action(), e.from(), e.to(), e.actor(), e.at(), e.reason(), e.weights());
        }
    }

    @Schema(name = "ExperimentList")
    public record Listing(@Schema(required = true) List<Experiment> data) {}

    @Schema(name = "ExperimentAssignment", description = "The variant serving a subject key")
    @JsonbNillable
    public record Assignment(
            @Schema(required = true) String experiment,
            @Schema(required = true) String strategy,
            @Schema(required = true) String model,
            @Schema(required = true) Variant variant,

            @Schema(required = true, description = "Hash bucket of the key, 0..9999")
            int bucket,

            @Schema(required = true, format = "date-time") Instant firstSeen,

            @Schema(required = true, description = "Whether this request made the assignment")
            boolean newAssignment,

            @Schema(required = true, description = "SHADOW: variants that receive a copy of the request")
            List<String> shadowVariants) {
        static Assignment of(AssignmentInfo a) {
            return new Assignment(
                    a.experiment(),
                    a.strategy(),
                    a.model(),
                    Variant.of(a.variant()),
                    a.bucket(),
                    a.firstSeen(),
                    a.newAssignment(),
                    a.shadowVariants());
        }
    }

    @Schema(name = "ExperimentOutcome")
    @JsonbNillable
    public record Outcome(
            long id,
            String experiment,
            String variant,
            String responseId,
            long latencyMs,
            @Schema(nullable = true) Long ttftMs,
            int promptTokens,
            int completionTokens,
            boolean error,
            double cost,
            @Schema(format = "date-time") Instant createdAt) {
        static Outcome of(OutcomeInfo o) {
            return new Outcome(
                    o.id(),
                    o.experiment(),
                    o.variant(),
                    o.responseId(),
                    o.latencyMs(),
                    o.ttftMs(),
                    o.promptTokens(),
                    o.completionTokens(),
                    o.error(),
                    o.cost(),
                    o.createdAt());
        }
    }

    @Schema(name = "Feedback")
    @JsonbNillable
    public record Feedback(
            long id,

            @JsonbProperty("response_id") @Schema(name = "response_id")
            String responseId,

            String scale,
            int rating,

            @Schema(description = "Thumbs down, or 1-2 stars")
            boolean negative,

            @Schema(nullable = true) String comment,

            @JsonbProperty("created_at") @Schema(name = "created_at", format = "date-time")
            Instant createdAt,

            @Schema(nullable = true, description = "Experiment whose outcome this rates, if any")
            String experiment,

            @Schema(nullable = true) String variant) {
        static Feedback of(FeedbackInfo f) {
            return new Feedback(
                    f.id(),
                    f.responseId(),
                    f.scale(),
                    f.rating(),
                    f.negative(),
                    f.comment(),
                    f.createdAt(),
                    f.experiment(),
                    f.variant());
        }
    }

    @Schema(name = "ExperimentResults")
    @JsonbNillable
    public record Results(
            String experiment,
            String status,
            String strategy,
            String primaryMetric,
            int minimumSample,
            List<VariantResult> variants,
            List<Comparison> comparisons,

            @Schema(nullable = true, description = "BANDIT: Thompson-sampling weights in variant order")
            List<Integer> banditAllocation,

            @Schema(
                    description =
                            "SHADOW: each shadow variant compared with the control on the same requests (empty otherwise)")
            List<ShadowSummary> shadow) {
        static Results of(ExperimentResults r) {
            return new Results(
                    r.experiment(),
                    r.status(),
                    r.strategy(),
                    r.primaryMetric(),
                    r.minimumSample(),
                    r.variants().stream().map(VariantResult::of).toList(),
                    r.comparisons().stream().map(Comparison::of).toList(),
                    r.banditAllocation(),
                    r.shadow().stream().map(ShadowSummary::of).toList());
        }
    }

    @Schema(
            name = "ExperimentShadowSummary",
            description =
                    "A shadow variant against the control: exact-agreement rate (95% Wilson "
                            + "interval), mean word-overlap similarity (0..1), and shadow-minus-control deltas of length and latency")
    @JsonbNillable
    public record ShadowSummary(
            String variant,
            long comparisons,
            Rate agreement,
            @Schema(nullable = true) Double meanSimilarity,
            @Schema(nullable = true) Double meanCompletionTokensDelta,
            @Schema(nullable = true) Double meanCharsDelta,
            @Schema(nullable = true) Double meanLatencyDeltaMs,
            @Schema(nullable = true) Double medianLatencyDeltaMs,
            long shadowErrors) {
        static ShadowSummary of(ExperimentResults.ShadowSummary s) {
            return new ShadowSummary(
                    s.variant(),
                    s.comparisons(),
                    Rate.of(s.agreement()),
                    s.meanSimilarity(),
                    s.meanCompletionTokensDelta(),
                    s.meanCharsDelta(),
                    s.meanLatencyDeltaMs(),
                    s.medianLatencyDeltaMs(),
                    s.shadowErrors());
        }
    }

    @Schema(name = "ExperimentRate", description = "A rate with its 95% Wilson score interval")
    public record Rate(long count, long trials, double rate, double ciLow, double ciHigh) {
        static Rate of(ExperimentResults.Rate r) {
            return new Rate(r.count(), r.trials(), r.rate(), r.ciLow(), r.ciHigh());
        }
    }

    @Schema(name = "ExperimentVariantResult")
    @JsonbNillable
    public record VariantResult(
            String name,
            boolean control,
            int weightPercent,
            long assignments,
            long outcomes,
            Rate errorRate,
            Rate negativeFeedbackRate,
            @Schema(nullable = true) Double latencyP50Ms,
            @Schema(nullable = true) Double latencyP95Ms,
            @Schema(nullable = true) Double latencyP99Ms,
            @Schema(nullable = true) Double ttftP50Ms,
            @Schema(nullable = true) Double ttftP95Ms,
            @Schema(nullable = true) Double meanCost,
            double totalCost,
            long promptTokens,
            long completionTokens,
            List<String> guardrailBreaches,

            @Schema(required = true, description = "End-to-end latency of the variant's outcomes, binned")
            Distribution latencyDistribution,

            @Schema(required = true, description = "Time to first token of the variant's streamed outcomes, binned")
            Distribution ttftDistribution) {
        static VariantResult of(ExperimentResults.VariantResult v) {
            return new VariantResult(
                    v.name(),
                    v.control(),
                    v.weightPercent(),
                    v.assignments(),
                    v.outcomes(),
                    Rate.of(v.errorRate()),
                    Rate.of(v.negativeFeedbackRate()),
                    v.latencyP50Ms(),
                    v.latencyP95Ms(),
                    v.latencyP99Ms(),
                    v.ttftP50Ms(),
                    v.ttftP95Ms(),
                    v.meanCost(),
                    v.totalCost(),
                    v.promptTokens(),
                    v.completionTokens(),
                    v.guardrailBreaches(),
                    Distribution.of(v.latencyDistribution()),
                    Distribution.of(v.ttftDistribution()));
        }
    }

    @Schema(
            name = "ExperimentDistribution",
            description = "Outcomes per bin: counts[i] are values at most upperEdgesMs[i] (and above the edge before);"
                    + " the last count, one past the edges, holds values above the last edge")
    public record Distribution(
            @Schema(required = true) List<Long> upperEdgesMs,
            @Schema(required = true) List<Long> counts) {
        static Distribution of(ExperimentResults.Distribution d) {
            return new Distribution(d.upperEdgesMs(), d.counts());
        }
    }

    @Schema(
            name = "ExperimentComparison",
            description = "A candidate against the control on the primary metric; test fields are null "
                    + "below the minimum sample")
    @JsonbNillable
    public record Comparison(
            String variant,
            String control,
            String metric,
            @Schema(nullable = true) Double controlValue,
            @Schema(nullable = true) Double variantValue,
            @Schema(nullable = true) String test,
            @Schema(nullable = true) Double statistic,
            @Schema(nullable = true) Double pValue,
            @Schema(nullable = true) Double degreesOfFreedom,
            @Schema(nullable = true) Boolean significant,

            @Schema(required = true, description = "Plain-language verdict")
            String verdict) {
        static Comparison of(ExperimentResults.Comparison c) {
            return new Comparison(
                    c.variant(),
                    c.control(),
                    c.metric(),
                    c.controlValue(),
                    c.variantValue(),
                    c.test(),
                    c.statistic(),
                    c.pValue(),
                    c.degreesOfFreedom(),
                    c.significant(),
                    c.verdict());
        }
    }
}
