package dev.anvil.experiments;

import dev.anvil.experiments.domain.Guardrails;
import dev.anvil.experiments.domain.PrimaryMetric;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Turns an experiment's raw outcomes into {@link ExperimentResults}: rates with Wilson intervals, latency
 * percentiles, cost, guardrail breaches, and for each candidate the test that suits the primary metric with a
 * plain-language verdict. Plain Java so every rule is unit-testable without a database.
 */
public final class ResultsCalculator {

    /** Significance level of the verdicts. */
    public static final double ALPHA = 0.05;

    public record VariantInfo(String name, boolean control, int weightPercent) {}

    private ResultsCalculator() {}

    public static ExperimentResults calculate(
            String experiment,
            String status,
            String strategy,
            PrimaryMetric metric,
            Guardrails guardrails,
            List<VariantInfo> variants,
            Map<String, Long> assignments,
            List<OutcomeSample> outcomes,
            List<Integer> banditAllocation) {
        List<ExperimentResults.VariantResult> results = new ArrayList<>();
        VariantInfo control = variants.stream()
                .filter(VariantInfo::control)
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no control variant"));
        for (VariantInfo v : variants) {
            results.add(variantResult(v, assignments.getOrDefault(v.name(), 0L), of(outcomes, v.name()), guardrails));
        }
        List<ExperimentResults.Comparison> comparisons = new ArrayList<>();
        for (VariantInfo v : variants) {
            if (v.control()) continue;
            comparisons.add(compare(
                    metric,
                    guardrails.minimumSample(),
                    control.name(),
                    of(outcomes, control.name()),
                    v.name(),
                    of(outcomes, v.name())));
        }
        return new ExperimentResults(
                experiment,
                status,
                strategy,
                metric.key(),
                guardrails.minimumSample(),
                results,
                comparisons,
                banditAllocation,
                List.of());
    }

    /** One shadow comparison as {@link #shadowSummary} needs it. */
    public record ShadowSample(
            boolean agree,
            double similarity,
            int controlTokens,
            int shadowTokens,
            int controlChars,
            int shadowChars,
            long controlLatencyMs,
            long shadowLatencyMs,
            boolean shadowError) {}

    /** Agreement rate (Wilson 95%), mean similarity and mean/median deltas (shadow minus control) of one shadow variant. */
    public static ExperimentResults.ShadowSummary shadowSummary(String variant, List<ShadowSample> samples) {
        long n = samples.size();
        long agree = samples.stream().filter(ShadowSample::agree).count();
        Statistics.Interval ci = Statistics.wilson(agree, n, Statistics.Z_95);
        ExperimentResults.Rate agreement =
                new ExperimentResults.Rate(agree, n, n == 0 ? 0 : (double) agree / n, ci.low(), ci.high());
        double[] latencyDeltas = samples.stream()
                .mapToDouble(s -> s.shadowLatencyMs() - s.controlLatencyMs())
                .toArray();
        return new ExperimentResults.ShadowSummary(
                variant,
                n,
                agreement,
                n == 0
                        ? null
                        : samples.stream()
                                .mapToDouble(ShadowSample::similarity)
                                .average()
                                .orElseThrow(),
                n == 0
                        ? null
                        : samples.stream()
                                .mapToDouble(s -> s.shadowTokens() - s.controlTokens())
                                .average()
                                .orElseThrow(),
                n == 0
                        ? null
                        : samples.stream()
                                .mapToDouble(s -> s.shadowChars() - s.controlChars())
                                .average()
                                .orElseThrow(),
                n == 0 ? null : Statistics.mean(latencyDeltas),
                orNull(Statistics.percentile(latencyDeltas, 50)),
                samples.stream().filter(ShadowSample::shadowError).count());
    }

    private static List<OutcomeSample> of(List<OutcomeSample> all, String variant) {
        return all.stream().filter(o -> o.variant().equals(variant)).toList();
    }

    static ExperimentResults.VariantResult variantResult(
            VariantInfo v, long assignments, List<OutcomeSample> samples, Guardrails g) {
        long n = samples.size();
        ExperimentResults.Rate errors = rate(samples, o -> true, OutcomeSample::error);
        ExperimentResults.Rate negative =
                rate(samples, o -> o.negativeFeedback() != null, OutcomeSample::negativeFeedback);
        double[] latency =
                samples.stream().mapToDouble(OutcomeSample::latencyMs).toArray();
        double[] ttft = samples.stream()
                .filter(o -> o.ttftMs() != null)
                .mapToDouble(o -> o.ttftMs())
                .toArray();
        double totalCost = samples.stream().mapToDouble(OutcomeSample::cost).sum();
        Double p95 = orNull(Statistics.percentile(latency, 95));
        List<String> breaches = new ArrayList<>();
        // Breaches are reported only on enough data: a single early error would otherwise "breach" a 5% limit.
        if (n >= g.minimumSample()) {
            if (g.maxErrorRate() != null && errors.rate() > g.maxErrorRate()) {
                breaches.add(String.format(
                        Locale.ROOT,
                        "error rate %.2f%% exceeds the limit of %.2f%%",
                        100 * errors.rate(),
                        100 * g.maxErrorRate()));
            }
            if (g.maxP95LatencyMs() != null && p95 != null && p95 > g.maxP95LatencyMs()) {
                breaches.add(String.format(
                        Locale.ROOT, "p95 latency %.0f ms exceeds the limit of %d ms", p95, g.maxP95LatencyMs()));
            }
        }
        if (g.maxNegativeFeedbackRate() != null
                && negative.trials() >= g.minimumSample()
                && negative.rate() > g.maxNegativeFeedbackRate()) {
            breaches.add(String.format(
                    Locale.ROOT,
                    "negative feedback rate %.2f%% exceeds the limit of %.2f%%",
                    100 * negative.rate(),
                    100 * g.maxNegativeFeedbackRate()));
        }
        return new ExperimentResults.VariantResult(
                v.name(),
                v.control(),
                v.weightPercent(),
                assignments,
                n,
                errors,
                negative,
                orNull(Statistics.percentile(latency, 50)),
                p95,
                orNull(Statistics.percentile(latency, 99)),
                orNull(Statistics.percentile(ttft, 50)),
                orNull(Statistics.percentile(ttft, 95)),
                n == 0 ? null : totalCost / n,
                totalCost,
                samples.stream().mapToLong(OutcomeSample::promptTokens).sum(),
                samples.stream().mapToLong(OutcomeSample::completionTokens).sum(),
                breaches,
                distribution(latency),
                distribution(ttft));
    }

    /** Bin edges of latency and TTFT distributions: 1-2-5 steps from 1 ms to a minute (LLM answers span that). */
    static final List<Long> DISTRIBUTION_EDGES_MS =
            List.of(1L, 2L, 5L, 10L, 20L, 50L, 100L, 200L, 500L, 1_000L, 2_000L, 5_000L, 10_000L, 20_000L, 60_000L);

    /** Counts of {@code values} (ms) per {@link #DISTRIBUTION_EDGES_MS} bin, plus one bin above the last edge. */
    static ExperimentResults.Distribution distribution(double[] values) {
        long[] counts = new long[DISTRIBUTION_EDGES_MS.size() + 1];
        for (double v : values) {
            int bin = 0;
            while (bin < DISTRIBUTION_EDGES_MS.size() && v > DISTRIBUTION_EDGES_MS.get(bin)) bin++;
            counts[bin]++;
        }
        return new ExperimentResults.Distribution(
                DISTRIBUTION_EDGES_MS, java.util.Arrays.stream(counts).boxed().toList());
    }

    private static ExperimentResults.Rate rate(
            List<OutcomeSample> samples, Predicate<OutcomeSample> counted, Predicate<OutcomeSample> hit) {
        long trials = samples.stream().filter(counted).count();
        long hits = samples.stream().filter(counted).filter(hit).count();
        Statistics.Interval ci = Statistics.wilson(hits, trials, Statistics.Z_95);
        return new ExperimentResults.Rate(hits, trials, trials == 0 ? 0 : (double) hits / trials, ci.low(), ci.high());
    }

    private static Double orNull(double value) {
        return Double.isNaN(value) ? null : value;
    }

    /** The candidate against the control on {@code metric}; lower is better for every metric. */
    static ExperimentResults.Comparison compare(
            PrimaryMetric metric,
            int minimumSample,
            String controlName,
            List<OutcomeSample> control,
            String variantName,
            List<OutcomeSample> variant) {
        String label = metric.key().replace('_', ' ');
        double[] c = values(metric, control);
        double[] v = values(metric, variant);
        Double controlValue = summary(metric, c);
        Double variantValue = summary(metric, v);
        if (c.length < minimumSample || v.length < minimumSample) {
            String verdict = String.format(
                    Locale.ROOT,
                    "Not enough data for a verdict on %s: %s has %d and %s has %d %s; each needs at least %d.",
                    label,
                    variantName,
                    v.length,
                    controlName,
                    c.length,
                    metric == PrimaryMetric.NEGATIVE_FEEDBACK_RATE ? "rated responses" : "outcomes",
                    minimumSample);
            return new ExperimentResults.Comparison(
                    variantName,
                    controlName,
                    metric.key(),
                    controlValue,
                    variantValue,
                    null,
                    null,
                    null,
                    null,
                    null,
                    verdict);
        }
        Statistics.TestResult test = switch (metric.kind()) {
            case PROPORTION -> Statistics.twoProportionZ(count(v), v.length, count(c), c.length);
            case SKEWED -> Statistics.mannWhitney(v, c);
            case CONTINUOUS -> Statistics.welch(v, c);
        };
        boolean significant = test.pValue() < ALPHA;
        String what = switch (metric.kind()) {
            case PROPORTION -> label;
            case SKEWED -> "median " + label;
            case CONTINUOUS -> "mean " + label;
        };
        String verdict;
        if (!significant) {
            verdict = String.format(
                    Locale.ROOT,
                    "No significant difference in %s between %s (%s) and %s (%s): p = %.4f is not below %.2f. "
                            + "Keep collecting data, or treat them as equivalent on this metric.",
                    what,
                    variantName,
                    show(metric, variantValue),
                    controlName,
                    show(metric, controlValue),
                    test.pValue(),
                    ALPHA);
        } else {
            boolean better = variantValue < controlValue;
            verdict = String.format(
                    Locale.ROOT,
                    "%s is %s than %s on %s (%s vs %s); the difference is statistically significant "
                            + "(%s, p = %.4f < %.2f).",
                    variantName,
                    better ? "better" : "worse",
                    controlName,
                    what,
                    show(metric, variantValue),
                    show(metric, controlValue),
                    test.test(),
                    test.pValue(),
                    ALPHA);
        }
        return new ExperimentResults.Comparison(
                variantName,
                controlName,
                metric.key(),
                controlValue,
                variantValue,
                test.test(),
                test.statistic(),
                test.pValue(),
                Double.isNaN(test.degreesOfFreedom()) ? null : test.degreesOfFreedom(),
                significant,
                verdict);
    }

    private static double[] values(PrimaryMetric metric, List<OutcomeSample> samples) {
        return switch (metric) {
            case ERROR_RATE ->
                samples.stream().mapToDouble(o -> o.error() ? 1 : 0).toArray();
            case NEGATIVE_FEEDBACK_RATE ->
                samples.stream()
                        .filter(o -> o.negativeFeedback() != null)
                        .mapToDouble(o -> o.negativeFeedback() ? 1 : 0)
                        .toArray();
            case LATENCY_MS ->
                samples.stream().mapToDouble(OutcomeSample::latencyMs).toArray();
            case TTFT_MS ->
                samples.stream()
                        .filter(o -> o.ttftMs() != null)
                        .mapToDouble(o -> o.ttftMs())
                        .toArray();
            case COST -> samples.stream().mapToDouble(OutcomeSample::cost).toArray();
        };
    }

    private static long count(double[] indicators) {
        long n = 0;
        for (double x : indicators) if (x != 0) n++;
        return n;
    }

    private static Double summary(PrimaryMetric metric, double[] values) {
        if (values.length == 0) return null;
        return metric.kind() == PrimaryMetric.Kind.SKEWED ? Statistics.percentile(values, 50) : Statistics.mean(values);
    }

    private static String show(PrimaryMetric metric, Double value) {
        return switch (metric.kind()) {
            case PROPORTION -> String.format(Locale.ROOT, "%.2f%%", 100 * value);
            case SKEWED -> String.format(Locale.ROOT, "%.1f ms", value);
            case CONTINUOUS -> String.format(Locale.ROOT, "%.6f", value);
        };
    }
}
