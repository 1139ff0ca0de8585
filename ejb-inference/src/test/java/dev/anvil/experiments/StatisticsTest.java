package dev.anvil.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Every expected value below comes from a cited published example, and was cross-checked with SciPy 1.17. */
class StatisticsTest {

    @Test
    void wilsonIntervalMatchesNewcombe1998() {
        // R. G. Newcombe, "Two-sided confidence intervals for the single proportion: comparison of seven methods",
        // Statistics in Medicine 17 (1998) 857-872, Table II, method 3 (score interval without continuity correction).
        assertInterval(0.2553, 0.3662, Statistics.wilson(81, 263, Statistics.Z_95));
        assertInterval(0.0624, 0.1605, Statistics.wilson(15, 148, Statistics.Z_95));
        assertInterval(0.0000, 0.1611, Statistics.wilson(0, 20, Statistics.Z_95));
        assertInterval(0.0061, 0.1718, Statistics.wilson(1, 29, Statistics.Z_95));
    }

    private static void assertInterval(double low, double high, Statistics.Interval actual) {
        assertEquals(low, actual.low(), 5e-5, "low");
        assertEquals(high, actual.high(), 5e-5, "high");
    }

    @Test
    void twoProportionZMatchesOpenIntroMammogramExample() {
        // OpenIntro Statistics (4th ed.), section 6.2: breast-cancer deaths, 500 of 44,925 in the mammogram group
        // and 505 of 44,910 in the control group; pooled z-test, p-value about 0.87 (no evidence of a difference).
        // Unrounded: z = -0.16393, p = 0.86978 (SciPy: 2 * norm.sf(|z|)).
        Statistics.TestResult r = Statistics.twoProportionZ(500, 44_925, 505, 44_910);
        assertEquals(-0.1639329561578003, r.statistic(), 1e-12);
        assertEquals(0.8697839227860011, r.pValue(), 1e-9);
        assertEquals(1.0, Statistics.twoProportionZ(0, 10, 0, 20).pValue(), "identical all-failure samples");
    }

    @Test
    void welchMatchesWikipediaExample() {
        // Wikipedia, "Welch's t-test", Examples, second pair of samples (A1, A2 of 15 each with unequal variances):
        // t = -2.46, Welch-Satterthwaite df = 24.99, p = 0.021.
        double[] a1 = {27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4};
        double[] a2 = {27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4};
        Statistics.TestResult r = Statistics.welch(a1, a2);
        assertEquals(-2.455356398286006, r.statistic(), 1e-9);
        assertEquals(24.988529290231416, r.degreesOfFreedom(), 1e-9);
        assertEquals(0.021378001462866992, r.pValue(), 1e-9);
    }

    @Test
    void mannWhitneyMatchesSciPyDocumentationExample() {
        // SciPy's mannwhitneyu documentation example (ages of males and females, from Wikipedia's Mann-Whitney U
        // article): U1 = 17; normal approximation with continuity correction p = 0.11134688653314041.
        // By hand: mean U = 5*4/2 = 10, var = 5*4*10/12, z = (|17 - 10| - 0.5) / sqrt(16.667) = 1.5922.
        Statistics.TestResult r =
                Statistics.mannWhitney(new double[] {19, 22, 16, 29, 24}, new double[] {20, 11, 17, 12});
        assertEquals(17, r.statistic(), 0);
        assertEquals(0.11134688653314041, r.pValue(), 1e-10);
    }

    @Test
    void mannWhitneyAppliesTieCorrection() {
        // Tied values across samples: average ranks give U1 = 11.5; the tie-corrected variance gives p = 0.06076
        // (SciPy mannwhitneyu(x, y, method="asymptotic")). Without the tie correction p would be 0.0634.
        Statistics.TestResult r =
                Statistics.mannWhitney(new double[] {1, 2, 2, 3, 4, 4, 4, 5}, new double[] {2, 3, 5, 5, 6, 7, 7});
        assertEquals(11.5, r.statistic(), 0);
        assertEquals(0.06076123666389785, r.pValue(), 1e-10);
    }

    @Test
    void distributionsMatchTables() {
        // Student t: P(|T| > 2.0) with 5 df = 0.10194 (tables; SciPy 2 * t.sf(2, 5) = 0.10193947882985835).
        assertEquals(0.10193947882985835, Statistics.studentTwoSided(2.0, 5), 1e-12);
        // Normal: P(|Z| > 1.959964) = 0.05; P(|Z| > 3) = 0.0026998.
        assertEquals(0.05, Statistics.normalTwoSided(Statistics.Z_95), 1e-12);
        assertEquals(0.0026997960632601866, Statistics.normalTwoSided(3), 1e-13);
        // Incomplete beta: I_0.3(2.5, 4) = 0.3521975859067672 (SciPy beta.cdf(0.3, 2.5, 4.0)).
        assertEquals(0.3521975859067672, Statistics.regularizedBeta(0.3, 2.5, 4.0), 1e-12);
        // Symmetry branch (x above the mean): I_x(a, b) = 1 - I_{1-x}(b, a).
        assertEquals(1 - Statistics.regularizedBeta(0.1, 3, 7), Statistics.regularizedBeta(0.9, 7, 3), 1e-14);
        assertEquals(Math.log(120), Statistics.logGamma(6), 1e-12);
        assertEquals(Math.log(Math.sqrt(Math.PI)), Statistics.logGamma(0.5), 1e-12);
    }

    @Test
    void percentilesInterpolateLinearly() {
        // NumPy percentile (linear, "type 7") of [15, 20, 35, 40, 50] at 5, 30, 40, 50, 100: 16, 23, 29, 35, 50.
        double[] v = {50, 15, 40, 20, 35};
        assertEquals(16, Statistics.percentile(v, 5), 1e-12);
        assertEquals(23, Statistics.percentile(v, 30), 1e-12);
        assertEquals(29, Statistics.percentile(v, 40), 1e-12);
        assertEquals(35, Statistics.percentile(v, 50), 1e-12);
        assertEquals(50, Statistics.percentile(v, 100), 1e-12);
        assertEquals(Double.NaN, Statistics.percentile(new double[0], 50));
        assertThrows(IllegalArgumentException.class, () -> Statistics.percentile(v, 101));
    }
}
