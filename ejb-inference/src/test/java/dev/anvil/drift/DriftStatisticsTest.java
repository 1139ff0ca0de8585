package dev.anvil.drift;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DriftStatisticsTest {

    private static double[] normal(SplittableRandom r, int n, double mean, double sd) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double u1 = r.nextDouble(), u2 = r.nextDouble();
            v[i] = mean + sd * Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
        }
        return v;
    }

    @Test
    void psiAndKlOfKnownProportions() {
        // Reference 50/50, current 80/20: PSI = (0.8-0.5)ln(1.6) + (0.2-0.5)ln(0.4) = 0.1410 + 0.2749
        int[] ref = new int[100], cur = new int[100];
        for (int i = 50; i < 100; i++) ref[i] = 1;
        for (int i = 80; i < 100; i++) cur[i] = 1;
        DriftStatistics.Comparison c = DriftStatistics.categorical(List.of("a", "b"), ref, cur);
        assertEquals(0.3 * Math.log(1.6) + 0.3 * Math.log(2.5), c.psi(), 1e-3);
        assertEquals(0.8 * Math.log(1.6) + 0.2 * Math.log(0.4), c.kl(), 1e-3);
        assertArrayEquals(new double[] {0.5, 0.5}, c.reference(), 1e-3);
    }

    @Test
    void identicalSamplesHaveNoDrift() {
        double[] v = normal(new SplittableRandom(1), 500, 100, 20);
        DriftStatistics.Comparison c = DriftStatistics.numeric(v, v.clone(), 10);
        assertEquals(0, c.psi(), 1e-12);
        assertEquals(0, c.kl(), 1e-12);
        assertEquals(10, c.bins().size(), "ten equal-frequency bins of a continuous feature: " + c.bins());
        for (double p : c.reference()) assertEquals(0.1, p, 0.002);
    }

    @Test
    void samplesOfOneDistributionStayBelowTheThresholdAndAShiftedOneCrossesIt() {
        SplittableRandom r = new SplittableRandom(7);
        double[] reference = normal(r, 500, 100, 20);
        double worstSame = 0;
        for (int trial = 0; trial < 50; trial++) {
            worstSame = Math.max(
                    worstSame,
                    DriftStatistics.numeric(reference, normal(r, 500, 100, 20), 10)
                            .psi());
        }
        assertTrue(worstSame < 0.1, "sampling noise alone stays stable (< 0.1) over 50 windows: " + worstSame);
        DriftStatistics.Comparison shifted = DriftStatistics.numeric(reference, normal(r, 500, 130, 20), 10);
        assertTrue(shifted.psi() > 0.25, "a 1.5 sd shift is a significant one: " + shifted.psi());
        assertTrue(shifted.kl() > 0.2, "and surprising under the reference: " + shifted.kl());
    }

    @Test
    void fewDistinctValuesGetOneBinEachAndValuesOutsideTheReferenceStillCount() {
        double[] reference = new double[300];
        for (int i = 0; i < reference.length; i++) reference[i] = i % 3; // 0, 1, 2
        double[] current = new double[300];
        for (int i = 0; i < current.length; i++) current[i] = 50 + i; // all above the reference's range
        DriftStatistics.Comparison c = DriftStatistics.numeric(reference, current, 10);
        assertEquals(List.of("<= 0", "<= 1", "> 1"), c.bins());
        assertEquals(1, c.current()[2], 1e-3, "the open last bin holds what lies above the reference");
        assertTrue(c.psi() > 5, "a total shift: " + c.psi());

        double[] constant = new double[100];
        DriftStatistics.Comparison flat = DriftStatistics.numeric(constant, constant, 10);
        assertEquals(List.of("all"), flat.bins());
        assertEquals(0, flat.psi(), 1e-12);
    }

    @Test
    void versionWindowsFillTheReferenceFirstThenSlideAndPinning() {
        VersionDrift.Settings settings = new VersionDrift.Settings(200, 200, 100, 10, 0.25, 0.2);
        VersionDrift drift = new VersionDrift(settings, Instant.EPOCH);
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 400; i++) drift.observe(observation(r, 40, "stop"));
        VersionDrift.Report steady = drift.evaluate();
        assertTrue(steady.breached().isEmpty(), "same traffic: no breach " + steady.features());
        VersionDrift.FeatureReport prompts = steady.features().get(DriftFeature.PROMPT_TOKENS.ordinal());
        assertEquals(200, prompts.referenceCount());
        assertEquals(200, prompts.currentCount());
        assertEquals(
                null, steady.features().get(DriftFeature.FEEDBACK.ordinal()).comparison(), "no ratings yet");

        for (int i = 0; i < 200; i++) drift.observe(observation(r, 400, "length")); // longer prompts, cut answers
        VersionDrift.Report shifted = drift.evaluate();
        assertTrue(
                shifted.newlyBreached().contains(DriftFeature.PROMPT_TOKENS),
                shifted.newlyBreached().toString());
        assertTrue(
                shifted.newlyBreached().contains(DriftFeature.FINISH_REASON),
                shifted.newlyBreached().toString());
        assertTrue(drift.evaluate().newlyBreached().isEmpty(), "a breach is new once");

        drift.pinReference(Instant.EPOCH.plusSeconds(60));
        VersionDrift.Report pinned = drift.evaluate();
        assertTrue(pinned.breached().isEmpty(), "the shifted traffic is the reference now");
        assertEquals(Instant.EPOCH.plusSeconds(60), pinned.referenceSince());
        for (int i = 0; i < 200; i++) drift.observe(observation(r, 400, "length"));
        assertTrue(drift.evaluate().breached().isEmpty(), "traffic like the new reference is stable");
        for (int i = 0; i < 200; i++) drift.observe(observation(r, 40, "stop"));
        VersionDrift.Report back = drift.evaluate();
        assertTrue(back.newlyBreached().contains(DriftFeature.PROMPT_TOKENS), "a move back is a drift again");
        for (int i = 0; i < 200; i++) drift.observe(observation(r, 400, "length"));
        assertTrue(drift.evaluate().cleared().contains(DriftFeature.PROMPT_TOKENS), "and returning clears it");
    }

    @Test
    void promptsMovingToAnotherRegionOfTheEmbeddingSpaceAreADrift() {
        VersionDrift drift = new VersionDrift(new VersionDrift.Settings(200, 200, 100, 10, 0.25, 0.2), Instant.EPOCH);
        SplittableRandom r = new SplittableRandom(11);
        for (int i = 0; i < 400; i++) drift.promptEmbedding(near(r, 0)); // reference and current: one topic
        VersionDrift.FeatureReport same = drift.evaluate().features().get(DriftFeature.PROMPT_EMBEDDING.ordinal());
        assertEquals(200, same.referenceCount());
        assertEquals(200, same.currentCount());
        assertTrue(
                !same.breached() && same.comparison().psi() < 0.25,
                "the same topic is stable: " + same.comparison().psi());
        for (int i = 0; i < 200; i++) drift.promptEmbedding(near(r, 1)); // another topic
        VersionDrift.Report moved = drift.evaluate();
        assertTrue(
                moved.newlyBreached().contains(DriftFeature.PROMPT_EMBEDDING),
                moved.newlyBreached().toString());
        drift.promptEmbedding(new float[3]); // another model's width is ignored
        assertEquals(
                200,
                drift.evaluate()
                        .features()
                        .get(DriftFeature.PROMPT_EMBEDDING.ordinal())
                        .currentCount());
    }

    /** A 16-dimensional vector near axis {@code axis} (a topic), with noise. */
    private static float[] near(SplittableRandom r, int axis) {
        float[] v = new float[16];
        for (int i = 0; i < v.length; i++) v[i] = (float) (0.3 * (r.nextDouble() - 0.5));
        v[axis] += 1;
        return v;
    }

    private static DriftObservation observation(SplittableRandom r, int promptMean, String finish) {
        int prompt = Math.max(1, (int) (promptMean * (0.8 + 0.4 * r.nextDouble())));
        return new DriftObservation(
                prompt,
                16 + r.nextInt(8),
                100 + r.nextInt(50),
                10L + r.nextInt(5),
                -1.5 + 0.3 * r.nextDouble(),
                finish,
                "clean");
    }
}
