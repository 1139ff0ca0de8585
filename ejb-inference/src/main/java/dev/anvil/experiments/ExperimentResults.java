package dev.anvil.experiments;

import java.util.List;

/** Results of an experiment: per-variant figures and each candidate's comparison with the control. */
public record ExperimentResults(
        String experiment,
        String status,
        String strategy,
        String primaryMetric,
        int minimumSample,
        List<VariantResult> variants,
        List<Comparison> comparisons,
        List<Integer> banditAllocation,
        List<ShadowSummary> shadow) {

    /**
     * A SHADOW variant against the control on the same live requests: how often their outputs agree exactly (with a
     * Wilson interval), mean word-level similarity, and the shadow's mean length and latency minus the control's.
     */
    public record ShadowSummary(
            String variant,
            long comparisons,
            Rate agreement,
            Double meanSimilarity,
            Double meanCompletionTokensDelta,
            Double meanCharsDelta,
            Double meanLatencyDeltaMs,
            Double medianLatencyDeltaMs,
            long shadowErrors) {}

    public ExperimentResults withShadow(List<ShadowSummary> summaries) {
        return new ExperimentResults(
                experiment,
                status,
                strategy,
                primaryMetric,
                minimumSample,
                variants,
                comparisons,
                banditAllocation,
                List.copyOf(summaries));
    }

    public record Rate(long count, long trials, double rate, double ciLow, double ciHigh) {}

    public record VariantResult(
            String name,
            boolean control,
            int weightPercent,
            long assignments,
            long outcomes,
            Rate errorRate,
            Rate negativeFeedbackRate,
            Double latencyP50Ms,
            Double latencyP95Ms,
            Double latencyP99Ms,
            Double ttftP50Ms,
            Double ttftP95Ms,
            Double meanCost,
            double totalCost,
            long promptTokens,
            long completionTokens,
            List<String> guardrailBreaches,
            Distribution latencyDistribution,
            Distribution ttftDistribution) {}

    /**
     * How many outcomes fell in each bin: bin i holds values at most {@code upperEdgesMs[i]} and above the previous
     * edge; the last count (one more than the edges) holds those above the last edge.
     */
    public record Distribution(List<Long> upperEdgesMs, List<Long> counts) {}

    /**
     * A candidate against the control on the primary metric. {@code test}, {@code statistic} and {@code pValue} are
     * null while either side is below the minimum sample; {@code significant} is then null too.
     */
    public record Comparison(
            String variant,
            String control,
            String metric,
            Double controlValue,
            Double variantValue,
            String test,
            Double statistic,
            Double pValue,
            Double degreesOfFreedom,
            Boolean significant,
            String verdict) {}
}
