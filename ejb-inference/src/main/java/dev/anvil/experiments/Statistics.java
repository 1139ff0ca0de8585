package dev.anvil.experiments;

import java.util.Arrays;

/**
 * The statistics experiments are decided with: confidence intervals for rates, the two-proportion z-test,
 * Welch's t-test, the Mann-Whitney U test and percentiles, on top of the special functions they need (log-gamma,
 * the regularized incomplete beta and gamma functions). Plain Java, no container; every p-value is two-sided.
 */
public final class Statistics {

    /** The standard normal quantile for a two-sided 95% interval. */
    public static final double Z_95 = 1.959963984540054;

    private static final double EPSILON = 1e-15;
    private static final double TINY = 1e-300;
    private static final int MAX_ITERATIONS = 10_000;

    private Statistics() {}

    public record Interval(double low, double high) {}

    /** A test's statistic, its two-sided p-value, and the degrees of freedom where the test has them (else NaN). */
    public record TestResult(String test, double statistic, double pValue, double degreesOfFreedom) {}

    // --- intervals -----------------------------------------------------------------------------------

    /**
     * Wilson score interval for {@code successes} out of {@code trials}. Chosen over the normal (Wald) interval
     * because it stays inside [0, 1] and keeps its coverage for small counts and rates near 0 or 1, which is where
     * error rates live.
     */
    public static Interval wilson(long successes, long trials, double z) {
        if (trials <= 0) return new Interval(0, 1);
        if (successes < 0 || successes > trials) {
            throw new IllegalArgumentException("successes " + successes + " outside 0.." + trials);
        }
        double n = trials;
        double p = successes / n;
        double z2 = z * z;
        double denominator = 1 + z2 / n;
        double centre = (p + z2 / (2 * n)) / denominator;
        double half = z / denominator * Math.sqrt(p * (1 - p) / n + z2 / (4 * n * n));
        return new Interval(Math.max(0, centre - half), Math.min(1, centre + half));
    }

    // --- tests ---------------------------------------------------------------------------------------

    /** Two-proportion z-test with the pooled standard error (H0: p1 = p2). z is positive when sample 1's rate is higher. */
    public static TestResult twoProportionZ(long successes1, long trials1, long successes2, long trials2) {
        if (trials1 <= 0 || trials2 <= 0) throw new IllegalArgumentException("both samples need at least one trial");
        double p1 = (double) successes1 / trials1;
        double p2 = (double) successes2 / trials2;
        double pooled = (double) (successes1 + successes2) / (trials1 + trials2);
        double se = Math.sqrt(pooled * (1 - pooled) * (1.0 / trials1 + 1.0 / trials2));
        if (se == 0) {
            // Both samples all-success or all-failure: identical rates, no evidence of a difference.
            return new TestResult("two-proportion z-test", 0, 1, Double.NaN);
        }
        double z = (p1 - p2) / se;
        return new TestResult("two-proportion z-test", z, normalTwoSided(z), Double.NaN);
    }

    /**
     * Welch's unequal-variance t-test with Welch-Satterthwaite degrees of freedom (H0: equal means). t is positive
     * when sample 1's mean is higher.
     */
    public static TestResult welch(double[] sample1, double[] sample2) {
        if (sample1.length < 2 || sample2.length < 2)
            throw new IllegalArgumentException("Welch's t-test needs at least two values per sample");
        double m1 = mean(sample1);
        double m2 = mean(sample2);
        double a = variance(sample1, m1) / sample1.length;
        double b = variance(sample2, m2) / sample2.length;
        if (a + b == 0) {
            return new TestResult("Welch's t-test", 0, m1 == m2 ? 1 : 0, Double.NaN);
        }
        double t = (m1 - m2) / Math.sqrt(a + b);
        double df = (a + b) * (a + b) / (a * a / (sample1.length - 1) + b * b / (sample2.length - 1));
        return new TestResult("Welch's t-test", t, studentTwoSided(t, df), df);
    }

    /**
     * Mann-Whitney U test by the normal approximation with tie correction and continuity correction (H0: neither
     * sample tends to larger values). The statistic is U of sample 1: the number of pairs in which sample 1's value
     * is larger, ties counting one half. Rank-based, so a few very slow requests cannot dominate it as they would a mean.
     */
    public static TestResult mannWhitney(double[] sample1, double[] sample2) {
        int n1 = sample1.length;
        int n2 = sample2.length;
        if (n1 == 0 || n2 == 0) throw new IllegalArgumentException("Mann-Whitney U needs values in both samples");
        int n = n1 + n2;
        double[][] pooled = new double[n][];
        for (int i = 0; i < n1; i++) pooled[i] = new double[] {sample1[i], 0};
        for (int i = 0; i < n2; i++) pooled[n1 + i] = new double[] {sample2[i], 1};
        Arrays.sort(pooled, (x, y) -> Double.compare(x[0], y[0]));
        double rankSum1 = 0;
        double tieTerm = 0;
        for (int i = 0; i < n; ) {
            int j = i;
            while (j + 1 < n && pooled[j + 1][0] == pooled[i][0]) j++;
            double averageRank = (i + j) / 2.0 + 1; // ranks are 1-based
            int ties = j - i + 1;
            tieTerm += (double) ties * ties * ties - ties;
            for (int k = i; k <= j; k++) {
                if (pooled[k][1] == 0) rankSum1 += averageRank;
            }
            i = j + 1;
        }
        double u1 = rankSum1 - n1 * (n1 + 1) / 2.0;
        double mean = n1 * (double) n2 / 2;
        double variance = n1 * (double) n2 / 12 * ((n + 1) - tieTerm / ((double) n * (n - 1)));
        if (variance <= 0) {
            return new TestResult("Mann-Whitney U", u1, 1, Double.NaN);
        }
        double distance = Math.max(0, Math.abs(u1 - mean) - 0.5);
        double z = distance / Math.sqrt(variance);
        return new TestResult("Mann-Whitney U", u1, normalTwoSided(z), Double.NaN);
    }

    // --- descriptive ---------------------------------------------------------------------------------

    /**
     * The q-th percentile (0..100) by linear interpolation between closest ranks (the "type 7" definition used by
     * R, NumPy and spreadsheets), of values that need not be sorted. NaN for no values.
     */
    public static double percentile(double[] values, double q) {
        if (q < 0 || q > 100) throw new IllegalArgumentException("percentile must be between 0 and 100, got " + q);
        if (values.length == 0) return Double.NaN;
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        double position = q / 100 * (sorted.length - 1);
        int below = (int) Math.floor(position);
        int above = Math.min(below + 1, sorted.length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }

    public static double mean(double[] values) {
        double sum = 0;
        for (double v : values) sum += v;
        return values.length == 0 ? Double.NaN : sum / values.length;
    }

    /** Sample variance (n - 1 denominator). */
    static double variance(double[] values, double mean) {
        double sum = 0;
        for (double v : values) sum += (v - mean) * (v - mean);
        return sum / (values.length - 1);
    }

    // --- distributions -------------------------------------------------------------------------------

    /** P(|Z| >= |z|) for a standard normal Z: erfc(|z| / sqrt 2), with erfc from the regularized upper gamma Q(1/2, x^2). */
    public static double normalTwoSided(double z) {
        double x = Math.abs(z) / Math.sqrt(2);
        return regularizedGammaQ(0.5, x * x);
    }

    /** P(|T| >= |t|) for Student's t with {@code df} degrees of freedom (df may be fractional): I_{df/(df+t^2)}(df/2, 1/2). */
    public static double studentTwoSided(double t, double df) {
        if (!(df > 0)) throw new IllegalArgumentException("degrees of freedom must be positive, got " + df);
        return regularizedBeta(df / (df + t * t), df / 2, 0.5);
    }

    /** ln Gamma(x) for x > 0, by the Lanczos approximation (g = 7, nine coefficients; relative error near 1e-15). */
    public static double logGamma(double x) {
        if (!(x > 0)) throw new IllegalArgumentException("logGamma needs x > 0, got " + x);
        if (x < 0.5) {
            // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
            return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
        }
        double[] c = {
            0.99999999999980993,
            676.5203681218851,
            -1259.1392167224028,
            771.32342877765313,
            -176.61502916214059,
            12.507343278686905,
            -0.13857109526572012,
            9.9843695780195716e-6,
            1.5056327351493116e-7
        };
        double z = x - 1;
        double sum = c[0];
        for (int i = 1; i < c.length; i++) sum += c[i] / (z + i);
        double t = z + 7.5;
        return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
    }

    /**
     * The regularized incomplete beta function I_x(a, b), by its continued fraction evaluated with the modified
     * Lentz method; where the fraction converges slowly (x above (a+1)/(a+b+2)) the symmetry
     * I_x(a, b) = 1 - I_{1-x}(b, a) is used instead.
     */
    public static double regularizedBeta(double x, double a, double b) {
        if (!(a > 0) || !(b > 0)) throw new IllegalArgumentException("regularizedBeta needs a, b > 0");
        if (x < 0 || x > 1 || Double.isNaN(x))
            throw new IllegalArgumentException("regularizedBeta needs 0 <= x <= 1, got " + x);
        if (x == 0) return 0;
        if (x == 1) return 1;
        double logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
        if (x < (a + 1) / (a + b + 2)) {
            return Math.exp(logFront) * betaContinuedFraction(x, a, b) / a;
        }
        return 1 - Math.exp(logFront) * betaContinuedFraction(1 - x, b, a) / b;
    }

    private static double betaContinuedFraction(double x, double a, double b) {
        double c = 1;
        double d = 1 - (a + b) * x / (a + 1);
        if (Math.abs(d) < TINY) d = TINY;
        d = 1 / d;
        double h = d;
        for (int m = 1; m <= MAX_ITERATIONS; m++) {
            // Even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m)).
            double even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
            d = 1 + even * d;
            if (Math.abs(d) < TINY) d = TINY;
            c = 1 + even / c;
            if (Math.abs(c) < TINY) c = TINY;
            d = 1 / d;
            h *= d * c;
            // Odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
            double odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            d = 1 + odd * d;
            if (Math.abs(d) < TINY) d = TINY;
            c = 1 + odd / c;
            if (Math.abs(c) < TINY) c = TINY;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.abs(delta - 1) < EPSILON) return h;
        }
        throw new ArithmeticException(
                "incomplete beta continued fraction did not converge for x=" + x + " a=" + a + " b=" + b);
    }

    /**
     * The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x): by its power series for P when
     * x < a + 1, else by its continued fraction (modified Lentz).
     */
    public static double regularizedGammaQ(double a, double x) {
        if (!(a > 0) || x < 0) throw new IllegalArgumentException("regularizedGammaQ needs a > 0, x >= 0");
        if (x == 0) return 1;
        double logFront = -x + a * Math.log(x) - logGamma(a);
        if (x < a + 1) {
            double term = 1 / a;
            double sum = term;
            for (int n = 1; n <= MAX_ITERATIONS; n++) {
                term *= x / (a + n);
                sum += term;
                if (Math.abs(term) < Math.abs(sum) * EPSILON) return 1 - sum * Math.exp(logFront);
            }
            throw new ArithmeticException("incomplete gamma series did not converge for a=" + a + " x=" + x);
        }
        double b = x + 1 - a;
        double c = 1 / TINY;
        double d = 1 / b;
        double h = d;
        for (int i = 1; i <= MAX_ITERATIONS; i++) {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b;
            if (Math.abs(d) < TINY) d = TINY;
            c = b + an / c;
            if (Math.abs(c) < TINY) c = TINY;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.abs(delta - 1) < EPSILON) return Math.exp(logFront) * h;
        }
        throw new ArithmeticException("incomplete gamma continued fraction did not converge for a=" + a + " x=" + x);
    }
}
