package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A row range of a fused tensor (Phi-3's {@code attn_qkv} and {@code ffn_up} are split at load this way) is the same
 * rows: dequantized, dotted and, for the repacked types, packed and multiplied, bit for bit as the rows of the whole
 * matrix.
 */
class RowRangeTest {

    static java.util.stream.Stream<GgmlType> types() {
        return Quantizer.WRITABLE.stream().filter(WeightMatrix.SUPPORTED::contains);
    }

    @ParameterizedTest
    @MethodSource("types")
    void aRowRangeIsThoseRowsOfTheWholeMatrix(GgmlType type) {
        int rows = 3 * PackedWeights.UNIT_ROWS + 8, cols = 256, first = PackedWeights.UNIT_ROWS + 3, count = 21;
        Random rnd = new Random(3);
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) values[i] = (float) rnd.nextGaussian();
        byte[] bytes = Quantizer.quantize(type, values);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(bytes.length);
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, seg, 0, bytes.length);
            WeightMatrix whole = new WeightMatrix("fused", type, rows, cols, seg);
            WeightMatrix part = whole.rowRange("fused[part]", first, count);
            assertEquals(count, part.rows());
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextGaussian();
            float[] a = new float[cols], b = new float[cols];
            for (int r = 0; r < count; r++) {
                whole.dequantizeRow(first + r, a, 0);
                part.dequantizeRow(r, b, 0);
                for (int i = 0; i < cols; i++) assertEquals(Float.floatToIntBits(a[i]), Float.floatToIntBits(b[i]));
                assertEquals(Float.floatToIntBits(whole.dot(first + r, x, 0)), Float.floatToIntBits(part.dot(r, x, 0)));
            }
            if (PackedWeights.supports(type)) {
                PackedWeights p = PackedWeights.allocate(part, arena);
                p.packUnits(part, 0, p.units);
                PackedWeights.Activations act = new PackedWeights.Activations(x, 1, cols, type, true);
                float[] out = new float[p.units * PackedWeights.UNIT_ROWS];
                for (int u = 0; u < p.units; u++) p.gemv(u, act, 0, out, u * PackedWeights.UNIT_ROWS);
                for (int r = 0; r < count; r++) {
                    assertEquals(
                            Float.floatToIntBits(PackedWeights.referenceDot(whole, first + r, act, 0)),
                            Float.floatToIntBits(out[r]),
                            "packed row " + r);
                }
            }
            assertThrows(UnsupportedModelException.class, () -> whole.rowRange("beyond", rows - 4, 5));
            assertThrows(UnsupportedModelException.class, () -> whole.rowRange("empty", 0, 0));
        }
    }
}
