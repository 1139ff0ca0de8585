package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The repacked kernels compute the defining formula ({@link PackedWeights#referenceDot}) bit for bit: the
 * one-token kernel, the many-token tile (including short tiles) and the padding rows of a last partial unit.
 * That exactness is what keeps a sequence's logits independent of its batch.
 */
class PackedWeightsTest {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @ParameterizedTest
    @EnumSource(
            value = GgmlType.class,
            names = {"Q8_0", "Q4_0", "Q5_0", "Q4_K"})
    void everyKernelComputesTheDefiningFormulaExactly(GgmlType type) {
        assertTrue(PackedWeights.supports(type), "this machine has 256-bit float vectors");
        // Rows not a multiple of the unit (padding), columns of 3 blocks (Q4_K: 2 super-blocks); 11 tokens = one full
        // tile and a short one, and two groups of four and a padded group for the few-token path; 6 and 2 tokens:
        // the few-token path's one-token remainders.
        for (int T : new int[] {11, 6, 2}) everyKernelComputesTheDefiningFormulaExactly(type, T);
    }

    private void everyKernelComputesTheDefiningFormulaExactly(GgmlType type, int T) {
        int rows = PackedWeights.UNIT_ROWS * 2 + 5, cols = type == GgmlType.Q4_K ? 512 : 96;
        int groups = cols / (type == GgmlType.Q4_K ? 256 : 32);
        Random rnd = new Random(42);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment raw = arena.allocate((long) rows * groups * type.typeSize);
            for (long i = 0; i < raw.byteSize(); i++) raw.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
            for (int r = 0; r < rows; r++) {
                for (int b = 0; b < groups; b++) {
                    long at = ((long) r * groups + b) * type.typeSize;
                    raw.set(I16, at, Float.floatToFloat16((float) (0.02 * rnd.nextGaussian())));
                    // Q4_K's dmin (a positive scale of the mins).
                    if (type == GgmlType.Q4_K)
                        raw.set(I16, at + 2, Float.floatToFloat16((float) (0.01 * rnd.nextDouble())));
                }
            }
            WeightMatrix w = new WeightMatrix("w", type, rows, cols, raw);
            PackedWeights p = PackedWeights.allocate(w, arena);
            p.packUnits(w, 0, p.units);

            float[] x = new float[T * cols];
            for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * (1 + i % 7));
            PackedWeights.Activations a = new PackedWeights.Activations(x, T, cols, type, true);
            PackedWeights.Activations tileForms = new PackedWeights.Activations(x, T, cols, type, false);
            float[] qx = a.qx;

            float[] one = new float[T * rows];
            for (int t = 0; t < T; t++) {
                for (int u = 0; u < p.units; u++) p.gemv(u, a, t, one, t * rows + u * PackedWeights.UNIT_ROWS);
            }
            float[] four = new float[T * rows];
            // Groups of four tokens (with 11: the last group, tokens 8..10, repeats token 10), then single tokens.
            short[] values = new short[PackedWeights.blockSumShorts(cols)];
            for (int u = 0; u < p.units; u++) p.gemvTokens(u, a, four, values);
            int R = PackedWeights.UNIT_ROWS, TT = PackedWeights.TILE_TOKENS;
            int tiles = (T + TT - 1) / TT, tileFloats = PackedWeights.tokenPanelFloats(cols);
            float[] xt = new float[tiles * tileFloats],
                    panel = new float[PackedWeights.panelFloats(cols)],
                    acc = new float[R * TT];
            for (int i = 0; i < tiles; i++)
                PackedWeights.interleave(tileForms, i * TT, Math.min(TT, T - i * TT), xt, i * tileFloats);
            float[] many = new float[T * rows];
            for (int u = 0; u < p.units; u++) {
                p.widen(u, panel);
                for (int i = 0; i < tiles; i++) {
                    PackedWeights.gemm(panel, cols, xt, i * tileFloats, acc);
                    for (int k = 0; k < Math.min(TT, T - i * TT); k++) {
                        if (type == GgmlType.Q4_K) p.subtractMins(panel, tileForms, i * TT + k, acc, R * k);
                        System.arraycopy(acc, R * k, many, (i * TT + k) * rows + u * R, Math.min(R, rows - u * R));
                    }
                }
            }
            for (int t = 0; t < T; t++) {
                for (int r = 0; r < rows; r++) {
                    float expected = PackedWeights.referenceDot(w, r, a, t);
                    assertEquals(
                            Float.floatToIntBits(expected),
                            Float.floatToIntBits(one[t * rows + r]),
                            "gemv token " + t + " row " + r);
                    assertEquals(
                            Float.floatToIntBits(expected),
                            Float.floatToIntBits(many[t * rows + r]),
                            "gemm token " + t + " row " + r);
                    assertEquals(
                            Float.floatToIntBits(expected),
                            Float.floatToIntBits(four[t * rows + r]),
                            "gemv4 token " + t + " row " + r);
                    // And the formula is the float dot product of the rounded activations, to float accuracy.
                    float[] xr = new float[cols];
                    for (int c = 0; c < cols; c++)
                        xr[c] = qx[t * cols + c] * a.dx[t * a.scaleBlocks + c / 32 / a.blocksPerScale];
                    float direct = w.dot(r, xr, 0);
                    assertEquals(direct, expected, 1e-4f * (1 + Math.abs(direct)), "token " + t + " row " + r);
                }
            }
        }
    }

    /**
     * The int16 lanes of the few-token kernels at their bounds: every nibble 15 (or 0; Q5_0 with every 5th bit set
     * or clear alike; Q8_0 weights -128 and 127) against every activation +127 (or -127) is the largest sum a lane
     * can hold; the result must still be the defining formula's.
     */
    @ParameterizedTest
    @ValueSource(ints = {0x00, 0xFF, 0x0F, 0xF0, 0x80, 0x7F})
    void int16BlockSumsAtTheirBoundsAreExact(int nibbles) {
        for (GgmlType type : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K}) {
            int rows = PackedWeights.UNIT_ROWS, cols = 512, groups = cols / (type == GgmlType.Q4_K ? 256 : 32);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment raw = arena.allocate((long) rows * groups * type.typeSize);
                raw.fill((byte) nibbles);
                for (int i = 0; i < rows * groups; i++) {
                    raw.set(I16, (long) i * type.typeSize, Float.floatToFloat16(0.5f));
                    if (type == GgmlType.Q4_K) raw.set(I16, (long) i * type.typeSize + 2, Float.floatToFloat16(0.25f));
                }
                WeightMatrix w = new WeightMatrix("w", type, rows, cols, raw);
                PackedWeights p = PackedWeights.allocate(w, arena);
                p.packUnits(w, 0, p.units);
                float[] x = new float[4 * cols];
                for (int i = 0; i < x.length; i++) x[i] = i < 2 * cols ? 3f : -3f; // two tokens all +127, two all -127
                PackedWeights.Activations a = new PackedWeights.Activations(x, 4, cols, type, true);
                float[] one = new float[4 * rows], four = new float[4 * rows];
                for (int t = 0; t < 4; t++) p.gemv(0, a, t, one, t * rows);
                p.gemvTokens(0, a, four, new short[PackedWeights.blockSumShorts(cols)]);
                for (int t = 0; t < 4; t++) {
                    assertEquals(
                            t < 2 ? 127f : -127f,
                            Math.abs(a.qx[t * cols]) * Math.signum(a.qx[t * cols] * a.dx[t * a.scaleBlocks]));
                    for (int r = 0; r < rows; r++) {
                        float expected = PackedWeights.referenceDot(w, r, a, t);
                        assertEquals(
                                Float.floatToIntBits(expected),
                                Float.floatToIntBits(one[t * rows + r]),
                                type + " gemv " + t);
                        assertEquals(
                                Float.floatToIntBits(expected),
                                Float.floatToIntBits(four[t * rows + r]),
                                type + " gemv4 " + t);
                    }
                }
            }
        }
    }
}
