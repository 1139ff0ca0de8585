package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Each weight encoding against an independent scalar decoder written from ggml's block definitions
 * (element-by-element index formulas, not the engine's loops), on random blocks with sane scales.
 */
class QuantKernelsTest {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Random bytes, then every fp16/fp32 scale or value field overwritten with a small finite number. */
    static MemorySegment randomRows(GgmlType t, int rows, int cols, Random r) {
        long rowBytes = t.bytesFor(cols);
        MemorySegment s = Arena.ofAuto().allocate(rowBytes * rows);
        for (long i = 0; i < s.byteSize(); i++) s.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        long blocks = s.byteSize() / t.typeSize;
        for (long b = 0; b < blocks; b++) {
            long o = b * t.typeSize;
            switch (t) {
                case F32 -> s.set(F32, o, (float) r.nextGaussian());
                case F16 -> s.set(I16, o, Float.floatToFloat16((float) r.nextGaussian()));
                case BF16 -> s.set(I16, o, (short) (Float.floatToIntBits((float) r.nextGaussian()) >>> 16));
                case Q8_0, Q4_0, Q5_0 -> s.set(I16, o, half(r, 0.05));
                case Q4_1, Q5_1, Q4_K, Q5_K -> {
                    s.set(I16, o, half(r, 0.05));
                    s.set(I16, o + 2, half(r, 0.05));
                }
                case Q6_K -> s.set(I16, o + 208, half(r, 0.01));
                default -> throw new IllegalArgumentException(t.toString());
            }
        }
        return s;
    }

    private static short half(Random r, double scale) {
        return Float.floatToFloat16((float) (r.nextGaussian() * scale));
    }

    static int u8(MemorySegment s, long o) {
        return s.get(ValueLayout.JAVA_BYTE, o) & 0xFF;
    }

    static float f16(MemorySegment s, long o) {
        return Float.float16ToFloat(s.get(I16, o));
    }

    /** Value i of a row at byte offset {@code row}, straight from the block definition. */
    static double reference(GgmlType t, MemorySegment s, long row, int i) {
        long blk = row + (long) (i / t.blockSize) * t.typeSize;
        int j = i % t.blockSize;
        switch (t) {
            case F32:
                return s.get(F32, row + 4L * i);
            case F16:
                return Float.float16ToFloat(s.get(I16, row + 2L * i));
            case BF16:
                return Float.intBitsToFloat(s.get(I16, row + 2L * i) << 16);
            case Q8_0:
                return f16(s, blk) * s.get(ValueLayout.JAVA_BYTE, blk + 2 + j);
            case Q4_0:
                return f16(s, blk) * (nibble(s, blk + 2, j) - 8);
            case Q4_1:
                return f16(s, blk) * nibble(s, blk + 4, j) + f16(s, blk + 2);
            case Q5_0:
                return f16(s, blk) * ((nibble(s, blk + 6, j) | (bit(s, blk + 2, j) << 4)) - 16);
            case Q5_1:
                return f16(s, blk) * (nibble(s, blk + 8, j) | (bit(s, blk + 4, j) << 4)) + f16(s, blk + 2);
            case Q4_K, Q5_K: {
                int sub = j / 32, within = j % 32; // 8 sub-blocks of 32
                int q = u8(s, (t == GgmlType.Q5_K ? blk + 48 : blk + 16) + 32 * (sub / 2) + within);
                q = sub % 2 == 0 ? q & 15 : q >> 4;
                if (t == GgmlType.Q5_K) q |= ((u8(s, blk + 16 + within) >> sub) & 1) << 4;
                int[] sm = scaleMin(s, blk + 4, sub);
                return (double) f16(s, blk) * sm[0] * q - (double) f16(s, blk + 2) * sm[1];
            }
            case Q6_K: {
                int half = j / 128, l = j % 128, quarter = l / 32, pos = l % 32;
                long ql = blk + 64 * half, qh = blk + 128 + 32 * half;
                int low = u8(s, ql + pos + (quarter % 2 == 1 ? 32 : 0));
                low = quarter < 2 ? low & 15 : low >> 4;
                int high = (u8(s, qh + pos) >> (2 * quarter)) & 3;
                int scale = s.get(ValueLayout.JAVA_BYTE, blk + 192 + 8 * half + 2 * quarter + pos / 16);
                return (double) f16(s, blk + 208) * scale * ((low | (high << 4)) - 32);
            }
            default:
                throw new IllegalArgumentException(t.toString());
        }
    }

    /** Nibble j of a 32-value block: low nibbles hold values 0..15, high nibbles 16..31. */
    private static int nibble(MemorySegment s, long qs, int j) {
        int b = u8(s, qs + j % 16);
        return j < 16 ? b & 15 : b >> 4;
    }

    private static int bit(MemorySegment s, long qh, int j) {
        return (s.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), qh) >>> j) & 1;
    }

    /** get_scale_min_k4: 12 bytes pack eight 6-bit scales and mins. */
    private static int[] scaleMin(MemorySegment s, long q, int j) {
        if (j < 4) return new int[] {u8(s, q + j) & 63, u8(s, q + j + 4) & 63};
        return new int[] {
            (u8(s, q + j + 4) & 15) | ((u8(s, q + j - 4) >> 6) << 4),
            (u8(s, q + j + 4) >> 4) | ((u8(s, q + j) >> 6) << 4)
        };
    }

    @ParameterizedTest
    @EnumSource(
            value = GgmlType.class,
            names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void dequantizeAndDotMatchTheBlockDefinition(GgmlType type) {
        Random r = new Random(type.ordinal());
        int rows = 5, cols = 512;
        MemorySegment data = randomRows(type, rows, cols, r);
        WeightMatrix w = new WeightMatrix("test", type, rows, cols, data);
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = (float) r.nextGaussian();
        float[] row = new float[cols];
        for (int rr = 0; rr < rows; rr++) {
            w.dequantizeRow(rr, row, 0);
            double exact = 0, magnitude = 0;
            for (int i = 0; i < cols; i++) {
                double ref = reference(type, data, rr * type.bytesFor(cols), i);
                assertEquals(ref, row[i], Math.abs(ref) * 1e-6 + 1e-30, type + " row " + rr + " value " + i);
                exact += ref * x[i];
                magnitude += Math.abs(ref * x[i]);
            }
            float fused = w.dot(rr, x, 0);
            // float accumulation of 512 products: error well below 1e-5 of the sum of magnitudes
            assertEquals(exact, fused, magnitude * 1e-5, type + " dot row " + rr);
            // the fused kernel and the dequantize-then-dot path are bit-identical (batch invariance)
            assertEquals(
                    QuantKernels.dot1(row, 0, x, 0, cols), fused, 0f, type + " fused vs dequantized dot, row " + rr);
        }
    }

    @Test
    void unsupportedTypesFailAtConstruction() {
        MemorySegment s = Arena.ofAuto().allocate(1024);
        UnsupportedModelException e = assertThrows(
                UnsupportedModelException.class,
                () -> new WeightMatrix("blk.0.attn_q.weight", GgmlType.Q2_K, 1, 256, s));
        assertTrue(e.getMessage().contains("Q2_K") && e.getMessage().contains("blk.0.attn_q.weight"), e.getMessage());
        assertThrows(
                UnsupportedModelException.class,
                () -> new WeightMatrix("w", GgmlType.Q8_0, 1, 40, s),
                "row not a whole number of blocks");
    }

    @Test
    void int8ActivationRoundingEqualsTheScalarDefinitionBitForBit() {
        Random r = new Random(11);
        int n = 32 * 400;
        float[] x = new float[n], out = new float[n];
        for (int i = 0; i < n; i++) {
            int block = i / 32;
            x[i] = switch (block % 5) {
                case 0 -> (float) r.nextGaussian();
                case 1 -> (float) (r.nextGaussian() * 1e-3); // values that round to -0.0 and +0.0
                case 2 -> (r.nextInt(255) - 127) / 127f * 3.5f; // exact ties of x * 127/amax
                case 3 -> i % 32 == 0 ? 0f : -0f; // an all-zero block
                default -> (float) (r.nextGaussian() * 1e4);
            };
        }
        x[32 * 5 + 3] = 7f; // make block 5 hold an exact maximum
        QuantKernels.roundActivations(QuantKernels.ActivationFormat.Q8_0, x, out, n);
        for (int b = 0; b < n; b += 32) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
            float d = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
            float id = amax != 0f ? 127f / amax : 0f;
            for (int j = 0; j < 32; j++) {
                float expected = d * (float) Math.rint(x[b + j] * id);
                assertEquals(
                        Float.floatToRawIntBits(expected),
                        Float.floatToRawIntBits(out[b + j]),
                        "block " + b / 32 + " value " + j + " (" + x[b + j] + ")");
            }
        }
    }

    @Test
    void activationRoundingFollowsGgml() {
        float[] x = new float[256], out = new float[256];
        Random r = new Random(3);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        QuantKernels.roundActivations(QuantKernels.ActivationFormat.Q8_0, x, out, 256);
        for (int b = 0; b < 256; b += 32) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
            float d = Float.float16ToFloat(Float.floatToFloat16(amax / 127));
            for (int j = 0; j < 32; j++) {
                double q = out[b + j] / d;
                assertEquals(Math.rint(q), q, 1e-3, "int8 grid");
                assertTrue(Math.abs(q) <= 127.001);
                assertEquals(x[b + j], out[b + j], d * 0.5 + amax * 1e-3);
            }
        }
        QuantKernels.roundActivations(QuantKernels.ActivationFormat.Q8_K, x, out, 256);
        float amax = 0;
        for (float v : x) amax = Math.max(amax, Math.abs(v));
        for (int i = 0; i < 256; i++) assertEquals(x[i], out[i], amax / 127 * 0.5001);
        QuantKernels.roundActivations(QuantKernels.ActivationFormat.F16, x, out, 256);
        for (int i = 0; i < 256; i++) assertEquals(Float.float16ToFloat(Float.floatToFloat16(x[i])), out[i], 0f);
        assertEquals(1.0f, QuantKernels.bf16Round(1.00390625f), 0f, "ties to even");
        assertEquals(1.0078125f, QuantKernels.bf16Round(1.005f), 0f);
    }
}
