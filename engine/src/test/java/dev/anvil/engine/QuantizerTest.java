package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Round trips through the writer's encoders and the engine's decoder ({@link QuantKernels#dequantize}), which
 * were written independently from GGML's layout description: agreement checks the byte layout, the error
 * bounds check the encoders' choice of scales.
 */
class QuantizerTest {

    private static float[] gaussian(int n, long seed, double std) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * std);
        return x;
    }

    private static float[] roundTrip(GgmlType type, float[] x) {
        byte[] bytes = Quantizer.quantize(type, x);
        assertEquals(type.bytesFor(x.length), bytes.length, "encoded size of " + type);
        float[] y = new float[x.length];
        QuantKernels.dequantize(type, MemorySegment.ofArray(bytes), 0, y, 0, x.length);
        return y;
    }

    private static double rmsError(float[] x, float[] y) {
        double e = 0, s = 0;
        for (int i = 0; i < x.length; i++) {
            e += (x[i] - y[i]) * (double) (x[i] - y[i]);
            s += x[i] * (double) x[i];
        }
        return Math.sqrt(e / s);
    }

    @Test
    void f16IsWithinHalfAnUlpOfBinary16() {
        float[] x = gaussian(4096, 1, 3.0);
        float[] y = roundTrip(GgmlType.F16, x);
        for (int i = 0; i < x.length; i++) {
            assertTrue(
                    Math.abs(x[i] - y[i]) <= Math.abs(x[i]) * 0x1p-11f + 0x1p-25f,
                    "F16 element " + i + ": " + x[i] + " -> " + y[i]);
        }
        // Exactly representable values survive unchanged.
        float[] exact = {0f, 1f, -2f, 0.5f, 65504f, -0.000061035156f};
        assertArrayEquals(exact, roundTrip(GgmlType.F16, exact));
    }

    @Test
    void bf16RoundsToNearestEven() {
        float[] x = gaussian(4096, 2, 3.0);
        float[] y = roundTrip(GgmlType.BF16, x);
        for (int i = 0; i < x.length; i++) {
            assertTrue(
                    Math.abs(x[i] - y[i]) <= Math.abs(x[i]) * 0x1p-8f,
                    "BF16 element " + i + ": " + x[i] + " -> " + y[i]);
        }
        // 1 + 2^-8 is exactly half way between two BF16 values: ties go to the even one (1.0).
        assertEquals(0x3f80, Quantizer.floatToBf16(1f + 0x1p-8f) & 0xffff);
        assertEquals(0x3f82, Quantizer.floatToBf16(1f + 3 * 0x1p-8f) & 0xffff);
        assertTrue(Float.isNaN(roundTrip(GgmlType.BF16, new float[] {Float.NaN})[0]));
    }

    @Test
    void q8_0ErrorIsAtMostHalfAStepPerBlock() {
        float[] x = gaussian(32 * 256, 3, 0.02);
        float[] y = roundTrip(GgmlType.Q8_0, x);
        for (int b = 0; b < x.length; b += 32) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b + i]));
            float step = amax / 127;
            for (int i = 0; i < 32; i++) {
                assertTrue(
                        Math.abs(x[b + i] - y[b + i]) <= step * 0.5f * 1.01f + amax * 0x1p-10f,
                        "Q8_0 element " + (b + i) + ": " + x[b + i] + " -> " + y[b + i]);
            }
        }
        assertTrue(rmsError(x, y) < 0.01, "Q8_0 relative RMS error " + rmsError(x, y));
    }

    @Test
    void q4_0And5_0ErrorsAreBoundedByTheirStep() {
        for (GgmlType type : new GgmlType[] {GgmlType.Q4_0, GgmlType.Q5_0}) {
            int levels = type == GgmlType.Q4_0 ? 8 : 16;
            float[] x = gaussian(32 * 256, 4, 0.02);
            float[] y = roundTrip(type, x);
            for (int b = 0; b < x.length; b += 32) {
                float amax = 0;
                for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b + i]));
                float step = amax / levels;
                for (int i = 0; i < 32; i++) {
                    // Half a step, except the one value at the far end of the range that the top level cannot reach.
                    assertTrue(
                            Math.abs(x[b + i] - y[b + i]) <= step * 1.01f,
                            type + " element " + (b + i) + ": " + x[b + i] + " -> " + y[b + i]);
                }
                // The element of largest magnitude is reproduced (up to fp16 rounding of the scale).
                int arg = b;
                for (int i = 0; i < 32; i++) if (Math.abs(x[b + i]) > Math.abs(x[arg])) arg = b + i;
                assertEquals(x[arg], y[arg], amax * 0x1p-10f, type + " block " + b / 32 + " extreme value");
            }
            double bound = type == GgmlType.Q4_0 ? 0.12 : 0.06;
            assertTrue(rmsError(x, y) < bound, type + " relative RMS error " + rmsError(x, y));
        }
    }

    @Test
    void q4_KFitsScalesAndMinsPerSubBlock() {
        float[] x = gaussian(256 * 64, 5, 0.02);
        // A shifted sub-block (all positive) exercises the min, a zero sub-block the degenerate scale.
        for (int i = 0; i < 32; i++) x[256 + i] = 0.05f + Math.abs(x[256 + i]);
        for (int i = 0; i < 32; i++) x[512 + i] = 0f;
        float[] y = roundTrip(GgmlType.Q4_K, x);
        double rms = rmsError(x, y);
        assertTrue(rms < 0.12, "Q4_K relative RMS error " + rms);
        for (int i = 0; i < 32; i++) assertEquals(0f, y[512 + i], 1e-6f, "zero sub-block element " + i);
        for (int b = 0; b < x.length; b += 32) {
            float lo = Float.MAX_VALUE, hi = -Float.MAX_VALUE;
            for (int i = 0; i < 32; i++) {
                lo = Math.min(lo, x[b + i]);
                hi = Math.max(hi, x[b + i]);
            }
            float range = hi - Math.min(lo, 0);
            for (int i = 0; i < 32; i++) {
                // 15 levels over the range plus the 6-bit scale quantization: well under a fifth of the range.
                assertTrue(
                        Math.abs(x[b + i] - y[b + i]) <= range * 0.2f,
                        "Q4_K element " + (b + i) + ": " + x[b + i] + " -> " + y[b + i]);
            }
        }
    }

    @Test
    void q4_KLayoutMatchesAHandDecodedBlock() {
        // Decode one block by hand from GGML's documented layout and compare with the engine's decoder.
        float[] x = gaussian(256, 6, 1.0);
        byte[] q = Quantizer.quantize(GgmlType.Q4_K, x);
        float d = Float.float16ToFloat((short) ((q[0] & 0xff) | (q[1] << 8)));
        float dmin = Float.float16ToFloat((short) ((q[2] & 0xff) | (q[3] << 8)));
        byte[] scales = java.util.Arrays.copyOfRange(q, 4, 16);
        float[] mine = new float[256];
        for (int j = 0; j < 8; j++) {
            int sc = j < 4 ? scales[j] & 63 : (scales[j + 4] & 0x0f) | (((scales[j - 4] & 0xff) >> 6) << 4);
            int m = j < 4 ? scales[j + 4] & 63 : ((scales[j + 4] & 0xff) >> 4) | (((scales[j] & 0xff) >> 6) << 4);
            for (int l = 0; l < 32; l++) {
                int chunk = j / 2, byteIndex = 16 + 32 * chunk + l;
                int nibble = (j % 2 == 0) ? q[byteIndex] & 0x0f : (q[byteIndex] & 0xff) >> 4;
                mine[32 * j + l] = d * sc * nibble - dmin * m;
            }
        }
        float[] engine = new float[256];
        QuantKernels.dequantize(GgmlType.Q4_K, MemorySegment.ofArray(q), 0, engine, 0, 256);
        assertArrayEquals(mine, engine, 1e-6f);
        assertTrue(rmsError(x, mine) < 0.12);
    }

    @Test
    void q8_0BlockBytesAreExact() {
        float[] x = new float[32];
        for (int i = 0; i < 32; i++) x[i] = (i - 16) * 0.25f; // amax 4 at i=0 -> d = 4/127
        x[31] = 4f * 1.5f / 127f; // exactly 1.5 steps: rounds half away from zero to 2
        byte[] q = Quantizer.quantize(GgmlType.Q8_0, x);
        short d = Float.floatToFloat16(4f / 127f);
        assertEquals(d, (short) ((q[0] & 0xff) | (q[1] << 8)));
        assertEquals(-127, q[2]);
        assertEquals(0, q[2 + 16]);
        assertEquals(2, q[2 + 31]);
    }

    @Test
    void refusesPartialBlocksAndUnknownTypes() {
        assertThrows(IllegalArgumentException.class, () -> Quantizer.quantize(GgmlType.Q8_0, new float[33]));
        assertThrows(IllegalArgumentException.class, () -> Quantizer.quantize(GgmlType.Q6_K, new float[256]));
    }
}
