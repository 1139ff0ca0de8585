package dev.anvil.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ThompsonSamplerTest {

    @Test
    void betterArmGetsMostTrafficAndNoArmFallsBelowFloor() {
        // Simulated traffic: arm "a" succeeds 30% of the time, "b" 60%, "c" 35%. Weights are re-allocated every
        // 100 requests from the posteriors, as a periodic rebalancer would.
        double[] truth = {0.30, 0.60, 0.35};
        String[] names = {"a", "b", "c"};
        long[] successes = new long[3];
        long[] failures = new long[3];
        SplittableRandom world = new SplittableRandom(7);
        ThompsonSampler sampler = new ThompsonSampler(new SplittableRandom(11), 2000);
        List<Integer> weights = List.of(34, 33, 33);
        for (int round = 0; round < 30; round++) {
            for (int r = 0; r < 100; r++) {
                int pick = world.nextInt(100);
                int arm = pick < weights.get(0) ? 0 : pick < weights.get(0) + weights.get(1) ? 1 : 2;
                if (world.nextDouble() < truth[arm]) successes[arm]++;
                else failures[arm]++;
            }
            List<ThompsonSampler.ArmStats> stats = new ArrayList<>();
            for (int i = 0; i < 3; i++) stats.add(new ThompsonSampler.ArmStats(names[i], successes[i], failures[i]));
            weights = sampler.allocate(stats, 5);
            assertEquals(100, weights.stream().mapToInt(Integer::intValue).sum());
            for (int w : weights) assertTrue(w >= 5, "floor violated: " + weights);
        }
        assertTrue(weights.get(1) >= 80, "best arm b should dominate after 3000 requests: " + weights);
    }

    @Test
    void deterministicUnderSeed() {
        List<ThompsonSampler.ArmStats> stats =
                List.of(new ThompsonSampler.ArmStats("a", 40, 60), new ThompsonSampler.ArmStats("b", 45, 55));
        List<Integer> first = new ThompsonSampler(new SplittableRandom(3), 5000).allocate(stats, 10);
        List<Integer> second = new ThompsonSampler(new SplittableRandom(3), 5000).allocate(stats, 10);
        assertEquals(first, second);
    }

    @Test
    void hopelessArmKeepsExactlyTheFloor() {
        List<ThompsonSampler.ArmStats> stats =
                List.of(new ThompsonSampler.ArmStats("bad", 0, 1000), new ThompsonSampler.ArmStats("good", 900, 100));
        assertEquals(List.of(5, 95), new ThompsonSampler(new SplittableRandom(1), 2000).allocate(stats, 5));
    }

    @Test
    void betaSamplesHaveTheRightMean() {
        // Beta(3, 7) has mean 0.3 and variance 3*7/(10^2 * 11) = 0.0191; the mean of 20,000 draws has sd 0.001.
        ThompsonSampler sampler = new ThompsonSampler(new SplittableRandom(5), 1);
        double sum = 0;
        for (int i = 0; i < 20_000; i++) sum += sampler.beta(3, 7);
        assertEquals(0.3, sum / 20_000, 0.005);
    }
}
