package dev.anvil.api.experiments;

import jakarta.json.bind.annotation.JsonbProperty;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** Request bodies of the experiments API. */
final class ExperimentRequests {

    private ExperimentRequests() {}

    @Schema(name = "CreateExperimentRequest", description = "A new experiment in status DRAFT")
    public record Create(
            @Schema(
                    required = true,
                    description = "Unique name (letters, digits, '.', '_', '-')",
                    examples = "shorter-answers")
            String name,

            @Schema(
                    required = true,
                    description = "Registered model whose versions the variants use",
                    examples = "stories260k")
            String model,

            @Schema(
                    required = true,
                    type = SchemaType.STRING,
                    enumeration = {"AB", "CANARY", "SHADOW", "BANDIT"})
            String strategy,

            @Schema(description = "What the experiment is expected to show")
            String hypothesis,

            @Schema(
                    required = true,
                    type = SchemaType.STRING,
                    enumeration = {"error_rate", "negative_feedback_rate", "latency_ms", "ttft_ms", "cost"},
                    description =
                            "Metric the verdict is based on (lower is better): proportions use a two-proportion z-test, "
                                    + "latencies Mann-Whitney U, cost Welch's t-test")
            String primaryMetric,

            @Schema(description = "Guardrail: largest acceptable error rate (0..1)")
            Double maxErrorRate,

            @Schema(description = "Guardrail: largest acceptable p95 latency in ms")
            Long maxP95LatencyMs,

            @Schema(description = "Guardrail: largest acceptable negative-feedback rate (0..1)")
            Double maxNegativeFeedbackRate,

            @Schema(
                    description =
                            "Outcomes each variant needs before a verdict or guardrail breach is reported (default 100)")
            Integer minimumSample,

            @Schema(
                    description = "CANARY only: the candidate's traffic share at each step, increasing, ending at 100",
                    examples = "1,5,25,50,100")
            String canarySteps,

            @Schema(required = true, description = "At least two; exactly one control; weights sum to 100")
            List<Variant> variants) {}

    @Schema(name = "ExperimentVariantRequest")
    public record Variant(
            @Schema(required = true, examples = "candidate") String name,

            @Schema(
                    required = true,
                    description = "A registered, non-ARCHIVED version of the experiment's model",
                    examples = "1.0.0")
            String modelVersion,

            @Schema(description = "Sampling temperature (0..2)")
            Double temperature,

            @Schema(description = "Nucleus sampling mass (0..1]")
            Double topP,

            @Schema(description = "Completion length cap") Integer maxTokens,

            @Schema(description = "System prompt this variant adds")
            String systemPrompt,

            @Schema(required = true, description = "Share of traffic in percent (0..100)")
            Integer weightPercent,

            @Schema(description = "Whether this is the control (exactly one)")
            Boolean control) {}

    @Schema(name = "ExperimentTransitionRequest", description = "Optional body of a lifecycle change")
    public record Reason(
            @Schema(description = "Why; recorded in the event history (required for rollback)")
            String reason) {}

    @Schema(name = "ExperimentWeightsRequest")
    public record Weights(
            @Schema(required = true, description = "Every variant's new weight in percent, summing to 100")
            Map<String, Integer> weights,

            @Schema(description = "Why; recorded in the event history")
            String reason) {}

    @Schema(name = "ExperimentOutcomeRequest", description = "How one response served by a variant went")
    public record Outcome(
            @Schema(required = true, description = "Id of the served response (e.g. chatcmpl-...); recorded once")
            String responseId,

            @Schema(required = true) String variant,

            @Schema(required = true, description = "End-to-end latency in ms")
            Long latencyMs,

            @Schema(description = "Time to first token in ms")
            Long ttftMs,

            Integer promptTokens,
            Integer completionTokens,

            @Schema(description = "Whether the request failed (default false)")
            Boolean error,

            @Schema(description = "Cost of the response in any consistent unit (default 0)")
            Double cost) {}

    @Schema(name = "FeedbackRequest", description = "A user's rating of one response")
    public record Feedback(
            @JsonbProperty("response_id")
            @Schema(name = "response_id", required = true, description = "Id of the rated response")
            String responseId,

            @Schema(
                    required = true,
                    description = "-1, 0 or 1 on the thumbs scale (default); 1 to 5 on the stars scale")
            Integer rating,

            @Schema(description = "Free text") String comment,

            @Schema(
                    type = SchemaType.STRING,
                    enumeration = {"thumbs", "stars"},
                    description = "Rating scale (default thumbs)")
            String scale,

            @Schema(
                    description =
                            "For callers without an API key: the subject key the response was requested with (its 'user'"
                                    + " field or X-Anvil-User header); the header works here too")
            String user) {}
}
