package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SamplerTest {

    static final int[] NO_HISTORY = new int[0];

    /** Logits whose softmax is exactly the given probabilities. */
    static float[] logitsOf(double... p) {
        float[] l = new float[p.length];
        for (int i = 0; i < p.length; i++) l[i] = (float) Math.log(p[i]);
        return l;
    }

    static Set<Integer> drawn(SamplingParams params, float[] logits, int n) {
        Sampler s = new Sampler(params);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < n; i++) seen.add(s.sample(logits, NO_HISTORY, 0).token());
        return seen;
    }

    @Test
    void greedyTakesArgmaxAndReportsLogprobs() {
        float[] l = {1f, 3f, 2f, -1f};
        Sampler.SampledToken t = new Sampler(SamplingParams.GREEDY.withTopLogprobs(3)).sample(l, NO_HISTORY, 0);
        assertEquals(1, t.token());
        double z = Math.log(Math.exp(1) + Math.exp(3) + Math.exp(2) + Math.exp(-1));
        assertEquals(3 - z, t.logprob(), 1e-5);
        assertArrayEquals(new int[] {1, 2, 0}, t.topTokens());
        assertEquals(2 - z, t.topLogprobs()[1], 1e-5);
        assertEquals(
                0, new Sampler(SamplingParams.GREEDY).sample(l, NO_HISTORY, 0).topTokens().length);
    }

    @Test
    void withoutLogprobsTheSameTokensAreDrawnAndNoLogprobIsReported() {
        float[] l = new float[5000];
        java.util.Random r = new java.util.Random(3);
        for (int i = 0; i < l.length; i++) l[i] = (float) r.nextGaussian();
        SamplingParams with =
                SamplingParams.DEFAULTS.withTemperature(0.8f).withSeed(11).withTopLogprobs(0);
        Sampler a = new Sampler(with), b = new Sampler(with.withTopLogprobs(-1));
        for (int i = 0; i < 200; i++) {
            Sampler.SampledToken x = a.sample(l, NO_HISTORY, 0), y = b.sample(l, NO_HISTORY, 0);
            assertEquals(x.token(), y.token(), "draw " + i);
            assertTrue(x.logprob() < 0, "the chosen token's logprob with topLogprobs 0");
            assertTrue(Float.isNaN(y.logprob()), "no logprob with topLogprobs -1");
            assertEquals(0, y.topTokens().length);
        }
        assertThrows(IllegalArgumentException.class, () -> with.withTopLogprobs(-2));
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        float[] l = logitsOf(0.2, 0.2, 0.2, 0.2, 0.2);
        SamplingParams p = SamplingParams.DEFAULTS.withSeed(42);
        int[] a = new int[100], b = new int[100], c = new int[100];
        Sampler sa = new Sampler(p), sb = new Sampler(p), sc = new Sampler(p.withSeed(43));
        for (int i = 0; i < 100; i++) {
            a[i] = sa.sample(l, NO_HISTORY, 0).token();
            b[i] = sb.sample(l, NO_HISTORY, 0).token();
            c[i] = sc.sample(l, NO_HISTORY, 0).token();
        }
        assertArrayEquals(a, b);
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(c));
    }

    @Test
    void temperatureSharpensOrFlattens() {
        float[] l = logitsOf(0.5, 0.3, 0.2);
        assertEquals(Set.of(0), drawn(SamplingParams.DEFAULTS.withTemperature(0.01f), l, 300));
        assertEquals(Set.of(0, 1, 2), drawn(SamplingParams.DEFAULTS.withTemperature(1.5f), l, 300));
    }

    @Test
    void topKKeepsTheKBest() {
        float[] l = logitsOf(0.3, 0.25, 0.2, 0.15, 0.1);
        assertEquals(Set.of(0, 1), drawn(SamplingParams.DEFAULTS.withTopK(2), l, 500));
        assertEquals(Set.of(0), drawn(SamplingParams.DEFAULTS.withTopK(1), l, 50));
    }

    @Test
    void topPKeepsTheSmallestSufficientSet() {
        float[] l = logitsOf(0.6, 0.3, 0.1);
        assertEquals(Set.of(0), drawn(SamplingParams.DEFAULTS.withTopP(0.5f), l, 300));
        assertEquals(Set.of(0, 1), drawn(SamplingParams.DEFAULTS.withTopP(0.85f), l, 500));
        assertEquals(Set.of(0, 1, 2), drawn(SamplingParams.DEFAULTS, l, 500));
    }

    @Test
    void minPDropsTokensFarBelowTheBest() {
        float[] l = logitsOf(0.6, 0.3, 0.1);
        assertEquals(Set.of(0, 1), drawn(SamplingParams.DEFAULTS.withMinP(0.4f), l, 500));
        assertEquals(Set.of(0), drawn(SamplingParams.DEFAULTS.withMinP(0.6f), l, 300));
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        float[] l = {2f, 1.5f, -1f, -1.2f};
        int[] history = {0, 2};
        SamplingParams greedy = SamplingParams.GREEDY.withRepetitionPenalty(2f);
        assertEquals(1, new Sampler(greedy).sample(l, history, 2).token(), "2/2 = 1 < 1.5");
        float[] neg = {-1f, -1.5f};
        assertEquals(1, new Sampler(greedy).sample(neg, new int[] {0}, 1).token(), "-1*2 = -2 < -1.5");
        assertEquals(0, new Sampler(SamplingParams.GREEDY).sample(l, history, 2).token(), "no penalty by default");
    }

    @Test
    void frequencyPenaltyCountsOccurrencesPresencePenaltyDoesNot() {
        float[] l = {3f, 2.5f, 0f};
        int[] history = {0, 0, 0};
        // frequency 0.2: 3 - 3*0.2 = 2.4 < 2.5
        assertEquals(
                1,
                new Sampler(SamplingParams.GREEDY.withFrequencyPenalty(0.2f))
                        .sample(l, history, 3)
                        .token());
        // presence 0.2: 3 - 0.2 = 2.8 > 2.5
        assertEquals(
                0,
                new Sampler(SamplingParams.GREEDY.withPresencePenalty(0.2f))
                        .sample(l, history, 3)
                        .token());
        assertEquals(
                1,
                new Sampler(SamplingParams.GREEDY.withPresencePenalty(0.6f))
                        .sample(l, history, 3)
                        .token());
    }

    @Test
    void penaltiesLookOnlyAtTheLastNTokens() {
        float[] l = {2.5f, 3f};
        int[] history = {0, 1, 1, 1};
        SamplingParams p = SamplingParams.GREEDY.withPresencePenalty(1f).withPenaltyLastN(3);
        assertEquals(0, new Sampler(p).sample(l, history, 4).token(), "window of 3: only token 1 penalised, 2.5 > 2");
        assertEquals(
                1, new Sampler(p.withPenaltyLastN(-1)).sample(l, history, 4).token(), "whole history: 1.5 < 2");
        assertEquals(
                1, new Sampler(p.withPenaltyLastN(0)).sample(l, history, 4).token(), "window 0 disables penalties");
    }

    @Test
    void logprobsIgnoreSamplingSettings() {
        float[] l = logitsOf(0.5, 0.3, 0.2);
        Sampler.SampledToken t =
                new Sampler(SamplingParams.DEFAULTS.withTemperature(0.01f).withTopLogprobs(2)).sample(l, NO_HISTORY, 0);
        assertEquals(Math.log(0.5), t.logprob(), 1e-5);
        assertEquals(Math.log(0.3), t.topLogprobs()[1], 1e-5);
    }

    @Test
    void invalidParametersAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> SamplingParams.DEFAULTS.withTopP(0f));
        assertThrows(IllegalArgumentException.class, () -> SamplingParams.DEFAULTS.withTopK(-1));
        assertThrows(IllegalArgumentException.class, () -> SamplingParams.DEFAULTS.withMinP(1.5f));
        assertThrows(IllegalArgumentException.class, () -> SamplingParams.DEFAULTS.withRepetitionPenalty(0f));
        assertTrue(SamplingParams.GREEDY.greedy());
    }
}
