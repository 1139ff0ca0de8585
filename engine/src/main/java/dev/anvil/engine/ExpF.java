package dev.anvil.engine;

import java.math.BigDecimal;
import java.math.MathContext;

/**
 * {@code e^x} for float arguments, rounded to float: a drop-in for {@code (float) StrictMath.exp(x)} at about
 * a quarter of its cost (the forward pass calls it once per attention score and once per SwiGLU element,
 * tens of thousands of times per token, where fdlibm's general double routine was a tenth of decode time).
 *
 * <p>Computed in double precision with plain IEEE operations ({@code Math.fma} and {@code Math.rint} are
 * exactly rounded, in the interpreter as in compiled code), so the result is the same on every path and in
 * every JIT state, which batch invariance requires. Method: {@code x = (32k + j)·ln2/32 + r}, {@code |r| <=
 * ln2/64}; {@code e^x = 2^k · 2^(j/32) · e^r} with a table of {@code 2^(j/32)} and the degree-6 Taylor
 * polynomial of {@code e^r} (truncation error below 4e-18). The double result is within about 2 ulp (double)
 * of the true value, so after rounding to float it equals the correctly rounded float — and
 * {@code (float) StrictMath.exp(x)} — except when the true value lies within a few 1e-16 (relative) of a
 * float rounding boundary, a few cases in a billion, where the two may differ by one float ulp.
 */
final class ExpF {
    private ExpF() {}

    private static final double INV_LN2_32 = 32 / 0.6931471805599453;
    /** ln2/32 split into its nearest double and the remainder, for an accurate {@code x - n·ln2/32}. */
    private static final double LN2_32_HI, LN2_32_LO;
    /** {@code 2^(j/32)} for j = 0..31. */
    private static final double[] TWO_J_32 = new double[32];

    static {
        BigDecimal ln2over32 = new BigDecimal("0.6931471805599453094172321214581765680755")
                .divide(BigDecimal.valueOf(32), MathContext.DECIMAL128);
        LN2_32_HI = ln2over32.doubleValue();
        LN2_32_LO = ln2over32.subtract(new BigDecimal(LN2_32_HI)).doubleValue();
        for (int j = 0; j < 32; j++) TWO_J_32[j] = StrictMath.pow(2, j / 32.0);
    }

    /** {@code e^x} rounded to float; NaN for NaN, 0 below -110, +infinity above 89 (where the float result is already 0 or infinite). */
    static float exp(float x) {
        if (x != x) return Float.NaN;
        if (x < -110f) return 0f;
        if (x > 89f) return Float.POSITIVE_INFINITY;
        double kd = Math.rint(x * INV_LN2_32);
        int n = (int) kd;
        double r = Math.fma(-kd, LN2_32_HI, x);
        r = Math.fma(-kd, LN2_32_LO, r);
        double p = r * (1 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720))))));
        double t = TWO_J_32[n & 31];
        double scale = Double.longBitsToDouble((long) ((n >> 5) + 1023) << 52);
        return (float) ((t + t * p) * scale);
    }
}
