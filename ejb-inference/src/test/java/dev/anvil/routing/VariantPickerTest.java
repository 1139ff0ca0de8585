package dev.anvil.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.experiments.LiveExperiment;
import dev.anvil.experiments.ThompsonSampler;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Routing decisions per strategy: sticky, weighted within statistical tolerance, bandit floors, shadow and paused. */
class VariantPickerTest {

    static LiveExperiment experiment(String strategy, String status, int... weights) {
        List<LiveExperiment.Variant> variants = new java.util.ArrayList<>();
        for (int i = 0; i < weights.length; i++) {
            variants.add(new LiveExperiment.Variant(
                    i + 1, i == 0 ? "control" : "v" + i, (i + 1) + ".0.0", null, null, null, null, weights[i], i == 0));
        }
        return new LiveExperiment(7, "exp-" + strategy.toLowerCase(), "chat", strategy, status, variants);
    }

    /** |observed - expected| within 4 standard deviations of a binomial count: fails by chance about once in 15,000 runs. */
    static void assertShare(int n, double p, long observed, String what) {
        double sd = Math.sqrt(n * p * (1 - p));
        assertTrue(
                Math.abs(observed - n * p) <= 4 * sd,
                what + ": " + observed + " of " + n + " expected " + n * p + " +- " + 4 * sd);
    }

    @Test
    void abSplitIsStickyAndMatchesTheWeightsOver10000Keys() {
        LiveExperiment e = experiment("AB", "RUNNING", 70, 20, 10);
        SplittableRandom random = new SplittableRandom(1);
        Map<String, Integer> counts = new HashMap<>();
        for (int k = 0; k < 10_000; k++) {
            String key = "user-" + k;
            LiveExperiment.Variant v = VariantPicker.pick(e, key, random);
            for (int again = 0; again < 3; again++) {
                assertSame(v, VariantPicker.pick(e, key, random), "the same key always gets the same variant");
            }
            counts.merge(v.name(), 1, Integer::sum);
        }
        assertShare(10_000, 0.70, counts.get("control"), "control");
        assertShare(10_000, 0.20, counts.get("v1"), "v1");
        assertShare(10_000, 0.10, counts.get("v2"), "v2");
    }

    @Test
    void requestsWithoutAKeyDrawAtRandomByWeight() {
        LiveExperiment e = experiment("AB", "RUNNING", 50, 50);
        SplittableRandom random = new SplittableRandom(2);
        long candidate = 0;
        for (int i = 0; i < 10_000; i++)
            if (!VariantPicker.pick(e, null, random).control()) candidate++;
        assertShare(10_000, 0.5, candidate, "candidate");
    }

    @Test
    void aGrowingCanaryKeepsItsUsersOnTheCandidate() {
        SplittableRandom random = new SplittableRandom(3);
        LiveExperiment at5 = experiment("CANARY", "RUNNING", 95, 5);
        LiveExperiment at25 = experiment("CANARY", "RUNNING", 75, 25);
        long onCandidateAt5 = 0, onCandidateAt25 = 0;
        for (int k = 0; k < 10_000; k++) {
            String key = "session-" + k;
            boolean before = !VariantPicker.pick(at5, key, random).control();
            boolean after = !VariantPicker.pick(at25, key, random).control();
            if (before) {
                onCandidateAt5++;
                assertTrue(after, "a user on the candidate at 5% stays on it at 25%");
            }
            if (after) onCandidateAt25++;
        }
        assertShare(10_000, 0.05, onCandidateAt5, "canary at 5%");
        assertShare(10_000, 0.25, onCandidateAt25, "canary at 25%");
    }

    @Test
    void banditAllocationKeepsTheFloorForALosingArmAndRoutingFollowsIt() {
        // The second arm is clearly worse: Thompson sampling gives it almost nothing but the floor keeps 10%.
        ThompsonSampler sampler = new ThompsonSampler(new SplittableRandom(4), 20_000);
        List<Integer> weights = sampler.allocate(
                List.of(
                        new ThompsonSampler.ArmStats("control", 900, 100),
                        new ThompsonSampler.ArmStats("v1", 300, 700)),
                10);
        assertEquals(List.of(90, 10), weights, "the loser keeps exactly its floor");
        LiveExperiment e = experiment("BANDIT", "RUNNING", weights.get(0), weights.get(1));
        SplittableRandom random = new SplittableRandom(5);
        long loser = 0;
        boolean sameKeyVaries = false;
        LiveExperiment.Variant firstForKey = VariantPicker.pick(e, "user-1", random);
        for (int i = 0; i < 10_000; i++) {
            LiveExperiment.Variant v = VariantPicker.pick(e, "user-1", random);
            if (!v.control()) loser++;
            if (v != firstForKey) sameKeyVaries = true;
        }
        assertShare(10_000, 0.10, loser, "bandit floor arm");
        assertTrue(sameKeyVaries, "a bandit draws per request, not per user");
    }

    @Test
    void shadowAndPausedExperimentsServeTheControl() {
        SplittableRandom random = new SplittableRandom(6);
        LiveExperiment shadow = experiment("SHADOW", "RUNNING", 100, 0);
        LiveExperiment paused = experiment("AB", "PAUSED", 10, 90);
        for (int k = 0; k < 1_000; k++) {
            assertTrue(VariantPicker.pick(shadow, "u" + k, random).control());
            assertTrue(VariantPicker.pick(paused, "u" + k, random).control());
            assertTrue(VariantPicker.pick(paused, null, random).control());
        }
    }

    @Test
    void outputComparison() {
        assertTrue(OutputComparison.agree(" Once upon a  time\n", "once upon a time"));
        assertFalse(OutputComparison.agree("Once upon a time", "Once upon a dog"));
        assertEquals(1.0, OutputComparison.similarity("", ""));
        assertEquals(0.0, OutputComparison.similarity("a b", "c d"));
        // {once, upon, a, time} vs {once, upon, a, dog}: 3 shared of 5 distinct words.
        assertEquals(0.6, OutputComparison.similarity("Once upon a time", "once upon a dog"), 1e-12);
    }
}
