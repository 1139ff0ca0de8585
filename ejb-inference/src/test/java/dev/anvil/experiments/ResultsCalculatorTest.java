package dev.anvil.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.experiments.domain.Guardrails;
import dev.anvil.experiments.domain.PrimaryMetric;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ResultsCalculatorTest {

    private static final List<ResultsCalculator.VariantInfo> VARIANTS = List.of(
            new ResultsCalculator.VariantInfo("control", true, 50),
            new ResultsCalculator.VariantInfo("candidate", false, 50));

    private static List<OutcomeSample> samples(String variant, int n, int errors, long latencyBase) {
        List<OutcomeSample> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(new OutcomeSample(
                    variant,
                    latencyBase + i % 50,
                    10L + i % 5,
                    10,
                    20,
                    i < errors,
                    0.001,
                    i % 4 == 0 ? Boolean.TRUE : i % 4 == 1 ? Boolean.FALSE : null));
        }
        return list;
    }

    @Test
    void refusesVerdictBelowMinimumSample() {
        List<OutcomeSample> all = new ArrayList<>(samples("control", 30, 3, 100));
        all.addAll(samples("candidate", 10, 0, 100));
        ExperimentResults r = ResultsCalculator.calculate(
                "e",
                "RUNNING",
                "AB",
                PrimaryMetric.ERROR_RATE,
                new Guardrails(0.01, null, null, 20),
                VARIANTS,
                Map.of("control", 5L),
                all,
                null);
        ExperimentResults.Comparison c = r.comparisons().get(0);
        assertNull(c.pValue());
        assertNull(c.significant());
        assertTrue(c.verdict().startsWith("Not enough data"), c.verdict());
        assertTrue(c.verdict().contains("candidate has 10"), c.verdict());
        ExperimentResults.VariantResult control = r.variants().get(0);
        assertEquals(5, control.assignments());
        assertEquals(30, control.outcomes());
        assertEquals(0.1, control.errorRate().rate(), 1e-12);
        assertEquals(List.of("error rate 10.00% exceeds the limit of 1.00%"), control.guardrailBreaches());
        assertTrue(
                r.variants().get(1).guardrailBreaches().isEmpty(),
                "candidate below minimum sample: no breach reported");
    }

    @Test
    void significantErrorRateDifferenceGetsAVerdict() {
        List<OutcomeSample> all = new ArrayList<>(samples("control", 1000, 100, 100));
        all.addAll(samples("candidate", 1000, 50, 100));
        ExperimentResults r = ResultsCalculator.calculate(
                "e",
                "RUNNING",
                "AB",
                PrimaryMetric.ERROR_RATE,
                new Guardrails(null, null, null, 100),
                VARIANTS,
                Map.of(),
                all,
                null);
        ExperimentResults.Comparison c = r.comparisons().get(0);
        assertEquals("two-proportion z-test", c.test());
        assertTrue(c.significant());
        assertTrue(c.pValue() < 1e-4, "5% vs 10% of 1000 each: z about -4.2");
        assertTrue(
                c.verdict().startsWith("candidate is better than control on error rate (5.00% vs 10.00%)"),
                c.verdict());
    }

    @Test
    void latencyUsesMannWhitneyAndEqualSamplesAreNotSignificant() {
        List<OutcomeSample> all = new ArrayList<>(samples("control", 200, 0, 100));
        all.addAll(samples("candidate", 200, 0, 100));
        ExperimentResults r = ResultsCalculator.calculate(
                "e",
                "RUNNING",
                "AB",
                PrimaryMetric.LATENCY_MS,
                new Guardrails(null, 120L, null, 100),
                VARIANTS,
                Map.of(),
                all,
                null);
        ExperimentResults.Comparison c = r.comparisons().get(0);
        assertEquals("Mann-Whitney U", c.test());
        assertFalse(c.significant());
        assertEquals(1.0, c.pValue(), 1e-9);
        assertTrue(c.verdict().startsWith("No significant difference in median latency ms"), c.verdict());
        ExperimentResults.VariantResult v = r.variants().get(0);
        assertEquals(124.5, v.latencyP50Ms(), 1e-9);
        assertTrue(
                v.guardrailBreaches().get(0).startsWith("p95 latency 147 ms exceeds the limit of 120 ms"),
                v.guardrailBreaches().toString());
        assertEquals(50, v.negativeFeedbackRate().count());
        assertEquals(100, v.negativeFeedbackRate().trials());
    }

    /**
     * Latency and TTFT distributions: each outcome lands in exactly one bin, a value on an edge in the bin it closes,
     * values beyond the last edge in the overflow bin; outcomes without a TTFT count only in the latency one.
     */
    @Test
    void latencyAndTtftDistributionsBinEveryOutcomeOnce() {
        List<OutcomeSample> all = new ArrayList<>(samples("control", 200, 0, 100)); // latency 100..149, TTFT 10..14
        all.add(new OutcomeSample("candidate", 200, 10L, 1, 1, false, 0, null)); // on the 200 ms edge
        all.add(new OutcomeSample("candidate", 201, null, 1, 1, false, 0, null)); // just above it, no TTFT
        all.add(new OutcomeSample("candidate", 90_000, 5L, 1, 1, false, 0, null)); // past the last edge
        ExperimentResults r = ResultsCalculator.calculate(
                "e",
                "RUNNING",
                "AB",
                PrimaryMetric.LATENCY_MS,
                new Guardrails(null, null, null, 100),
                VARIANTS,
                Map.of(),
                all,
                null);
        List<Long> edges = ResultsCalculator.DISTRIBUTION_EDGES_MS;
        ExperimentResults.Distribution control = r.variants().get(0).latencyDistribution();
        assertEquals(edges, control.upperEdgesMs());
        assertEquals(edges.size() + 1, control.counts().size());
        assertEquals(200L, control.counts().stream().mapToLong(Long::longValue).sum());
        int to100 = edges.indexOf(100L);
        assertEquals(4L, control.counts().get(to100), "latency 100 exactly (i % 50 == 0 four times)");
        assertEquals(196L, control.counts().get(to100 + 1), "101..149 ms, in (100, 200]");
        ExperimentResults.Distribution ttft = r.variants().get(0).ttftDistribution();
        assertEquals(40L, ttft.counts().get(edges.indexOf(10L)), "TTFT 10 (i % 5 == 0)");
        assertEquals(160L, ttft.counts().get(edges.indexOf(20L)), "TTFT 11..14");

        ExperimentResults.Distribution candidate = r.variants().get(1).latencyDistribution();
        int to200 = edges.indexOf(200L);
        assertEquals(1L, candidate.counts().get(to200));
        assertEquals(1L, candidate.counts().get(to200 + 1));
        assertEquals(1L, candidate.counts().get(edges.size()), "the overflow bin");
        ExperimentResults.Distribution candidateTtft = r.variants().get(1).ttftDistribution();
        assertEquals(
                2L, candidateTtft.counts().stream().mapToLong(Long::longValue).sum(), "only outcomes with a TTFT");
    }

    @Test
    void costUsesWelch() {
        List<OutcomeSample> all = new ArrayList<>();
        for (int i = 0; i < 150; i++) {
            all.add(new OutcomeSample("control", 100, null, 1, 1, false, 0.010 + (i % 10) * 0.001, null));
            all.add(new OutcomeSample("candidate", 100, null, 1, 1, false, 0.005 + (i % 10) * 0.001, null));
        }
        ExperimentResults.Comparison c = ResultsCalculator.calculate(
                        "e",
                        "RUNNING",
                        "AB",
                        PrimaryMetric.COST,
                        new Guardrails(null, null, null, 100),
                        VARIANTS,
                        Map.of(),
                        all,
                        null)
                .comparisons()
                .get(0);
        assertEquals("Welch's t-test", c.test());
        assertTrue(c.significant());
        assertTrue(
                c.degreesOfFreedom() > 290 && c.degreesOfFreedom() <= 298,
                "equal variances, 150 each: df near 298, got " + c.degreesOfFreedom());
        assertTrue(c.verdict().startsWith("candidate is better than control on mean cost"), c.verdict());
    }

    @Test
    void shadowSummaryAgreementAndDeltas() {
        List<ResultsCalculator.ShadowSample> samples = List.of(
                new ResultsCalculator.ShadowSample(true, 1.0, 10, 10, 40, 40, 100, 130, false),
                new ResultsCalculator.ShadowSample(false, 0.5, 10, 14, 40, 52, 100, 150, false),
                new ResultsCalculator.ShadowSample(false, 0.0, 10, 0, 40, 0, 120, 80, true),
                new ResultsCalculator.ShadowSample(true, 1.0, 12, 12, 44, 44, 90, 100, false));
        ExperimentResults.ShadowSummary s = ResultsCalculator.shadowSummary("shadow", samples);
        assertEquals(4, s.comparisons());
        assertEquals(2, s.agreement().count());
        assertEquals(0.5, s.agreement().rate(), 1e-12);
        // Wilson 95% for 2 of 4: (0.1500, 0.8500).
        assertEquals(0.1500, s.agreement().ciLow(), 1e-4);
        assertEquals(0.8500, s.agreement().ciHigh(), 1e-4);
        assertEquals(0.625, s.meanSimilarity(), 1e-12);
        assertEquals((0 + 4 - 10 + 0) / 4.0, s.meanCompletionTokensDelta(), 1e-12);
        assertEquals((0 + 12 - 40 + 0) / 4.0, s.meanCharsDelta(), 1e-12);
        assertEquals((30 + 50 - 40 + 10) / 4.0, s.meanLatencyDeltaMs(), 1e-12);
        assertEquals(1, s.shadowErrors());
        ExperimentResults.ShadowSummary none = ResultsCalculator.shadowSummary("shadow", List.of());
        assertEquals(0, none.comparisons());
        assertNull(none.meanSimilarity());
        assertNull(none.meanLatencyDeltaMs());
    }
}
