package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ExpFTest {

    /** A stride through every float in [-110, 89] (about 23 million values) agrees bit for bit with fdlibm rounded to float. */
    @Test
    void equalsStrictMathRoundedToFloat() {
        int negativeEnd = Float.floatToRawIntBits(-110f), positiveEnd = Float.floatToRawIntBits(89f);
        for (int bits = 0x80000000; bits <= negativeEnd && bits < 0; bits += 97) check(Float.intBitsToFloat(bits));
        for (int bits = 0; bits <= positiveEnd; bits += 97) check(Float.intBitsToFloat(bits));
    }

    @Test
    void softmaxAndSwigluRangeAgreesEverywhere() {
        // Attention softmax feeds score - max (<= 0) and SwiGLU -g: every float in [-20, 20].
        int negativeEnd = Float.floatToRawIntBits(-20f), positiveEnd = Float.floatToRawIntBits(20f);
        for (int bits = 0x80000000; bits <= negativeEnd && bits < 0; bits += 3) check(Float.intBitsToFloat(bits));
        for (int bits = 0; bits <= positiveEnd; bits += 3) check(Float.intBitsToFloat(bits));
    }

    @Test
    void edgeCases() {
        assertEquals(1f, ExpF.exp(0f));
        assertEquals(1f, ExpF.exp(-0f));
        assertEquals(0f, ExpF.exp(Float.NEGATIVE_INFINITY));
        assertEquals(0f, ExpF.exp(-200f));
        assertEquals(Float.POSITIVE_INFINITY, ExpF.exp(Float.POSITIVE_INFINITY));
        assertEquals(Float.POSITIVE_INFINITY, ExpF.exp(100f));
        assertEquals(Float.POSITIVE_INFINITY, ExpF.exp(88.8f));
        assertEquals((float) StrictMath.exp(88.7f), ExpF.exp(88.7f));
        assertEquals((float) StrictMath.exp(-103.9f), ExpF.exp(-103.9f)); // a subnormal float result
        assertEquals(Float.NaN, ExpF.exp(Float.NaN));
    }

    private static void check(float x) {
        float expected = (float) StrictMath.exp(x);
        float actual = ExpF.exp(x);
        if (Float.floatToRawIntBits(expected) != Float.floatToRawIntBits(actual)) {
            assertEquals(expected, actual, 0f, "exp(" + x + ")");
        }
    }
}
