package dev.anvil.experiments;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Thompson sampling for Beta-Bernoulli arms, turned into traffic weights: each arm's share is the probability that
 * it is the best arm under its Beta(1 + successes, 1 + failures) posterior (uniform prior), estimated by drawing
 * from every posterior many times and counting wins. Each arm then gets at least {@code floorPercent}, so no arm
 * starves and a lucky early streak can still be corrected. Deterministic for a seeded generator.
 */
public final class ThompsonSampler {

    public record ArmStats(String name, long successes, long failures) {
        public ArmStats {
            if (successes < 0 || failures < 0) throw new IllegalArgumentException("counts must not be negative");
        }
    }

    private final RandomGenerator random;
    private final int draws;

    public ThompsonSampler(RandomGenerator random, int draws) {
        if (draws < 1) throw new IllegalArgumentException("draws must be positive");
        this.random = random;
        this.draws = draws;
    }

    /** Probability of being best per arm (sums to 1), estimated from {@code draws} joint posterior samples. */
    public double[] winProbabilities(List<ArmStats> arms) {
        double[] wins = new double[arms.size()];
        for (int d = 0; d < draws; d++) {
            int best = -1;
            double bestValue = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < arms.size(); i++) {
                double v = beta(1 + arms.get(i).successes(), 1 + arms.get(i).failures());
                if (v > bestValue) {
                    bestValue = v;
                    best = i;
                }
            }
            wins[best]++;
        }
        for (int i = 0; i < wins.length; i++) wins[i] /= draws;
        return wins;
    }

    /**
     * Whole-percent weights summing to 100: every arm gets {@code floorPercent}, the remainder is shared in
     * proportion to the win probabilities (largest remainders get the leftover percents).
     */
    public List<Integer> allocate(List<ArmStats> arms, int floorPercent) {
        if (arms.isEmpty()) throw new IllegalArgumentException("no arms");
        if (floorPercent < 0 || floorPercent * arms.size() > 100) {
            throw new IllegalArgumentException(
                    "a floor of " + floorPercent + "% for " + arms.size() + " arms exceeds 100%");
        }
        double[] p = winProbabilities(arms);
        int free = 100 - floorPercent * arms.size();
        List<Integer> weights = new ArrayList<>();
        double[] remainders = new double[arms.size()];
        int given = 0;
        for (int i = 0; i < arms.size(); i++) {
            double exact = p[i] * free;
            int whole = (int) Math.floor(exact);
            weights.add(floorPercent + whole);
            remainders[i] = exact - whole;
            given += whole;
        }
        for (int left = free - given; left > 0; left--) {
            int largest = 0;
            for (int i = 1; i < remainders.length; i++) if (remainders[i] > remainders[largest]) largest = i;
            weights.set(largest, weights.get(largest) + 1);
            remainders[largest] = -1;
        }
        return weights;
    }

    /** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
    double beta(double a, double b) {
        double x = gamma(a);
        double y = gamma(b);
        return x / (x + y);
    }

    /** Gamma(shape, 1) for shape >= 1 by Marsaglia and Tsang's squeeze method (2000); our shapes are always >= 1. */
    double gamma(double shape) {
        double d = shape - 1.0 / 3;
        double c = 1 / Math.sqrt(9 * d);
        while (true) {
            double x;
            double v;
            do {
                x = random.nextGaussian();
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = random.nextDouble();
            if (u < 1 - 0.0331 * x * x * x * x) return d * v;
            if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
        }
    }
}
