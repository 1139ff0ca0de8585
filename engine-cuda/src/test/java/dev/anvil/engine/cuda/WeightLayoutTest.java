package dev.anvil.engine.cuda;

import static org.junit.jupiter.api.Assertions.*;

import dev.anvil.engine.GgmlType;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.WeightMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The device copy of a model's weights against the CPU backend's reading of the same GGUF tensors: every tensor is
 * staged at its {@link WeightLayout} offset exactly as the upload copies it, and then decoded there the way the
 * kernels' decode8 (anvil.cuh) addresses it, transliterated line for line below; every decoded weight must equal
 * {@link WeightMatrix#dequantizeRow}. This checks the kernels' block arithmetic for each encoding without a device.
 */
class WeightLayoutTest {

    static final Path SHARED = Path.of(System.getProperty("anvil.shared.dir", "../shared"));

    @Test
    void everyEncodingDecodesAtItsOffsetAsTheCpuReadsIt() throws Exception {
        Set<GgmlType> seen = EnumSet.noneOf(GgmlType.class);
        for (String file : new String[] {
            "reference/models/ref-spm-f16.gguf",
            "reference/models/ref-spm-q8_0.gguf",
            "reference/models/ref-spm-q4_0.gguf",
            "reference/models/ref-bpe-q4_k_m.gguf",
            "reference/arch/qwen3-q4_k_m.gguf"
        }) {
            try (LlamaModel model = LlamaModel.load(
                            SHARED.resolve(file), Thread.ofPlatform().factory(), 1);
                    Arena arena = Arena.ofConfined()) {
                WeightLayout layout = new WeightLayout(model.weights());
                MemorySegment device = arena.allocate(layout.totalBytes(), WeightLayout.ALIGN);
                long end = 0;
                for (WeightLayout.Slot s : layout.slots()) {
                    assertEquals(0, s.offset() % WeightLayout.ALIGN, s.matrix().name() + " is aligned");
                    assertTrue(s.offset() >= end, s.matrix().name() + " does not overlap the previous tensor");
                    end = s.offset() + s.bytes();
                    MemorySegment.copy(s.matrix().data(), 0, device, s.offset(), s.bytes());
                }
                assertTrue(end <= layout.totalBytes());
                for (WeightLayout.Slot s : layout.slots()) {
                    WeightMatrix m = s.matrix();
                    seen.add(m.type());
                    float[] want = new float[m.cols()], got = new float[m.cols()];
                    for (int row : new int[] {0, m.rows() / 2, m.rows() - 1}) {
                        m.dequantizeRow(row, want, 0);
                        long base = s.offset() + row * s.rowBytes();
                        for (int g = 0; g < m.cols() / 8; g++) decode8(m.type(), device, base, g, got, 8 * g);
                        assertArrayEquals(want, got, m.name() + " (" + m.type() + ") row " + row + " of " + file);
                    }
                }
            }
        }
        assertTrue(
                seen.containsAll(EnumSet.of(GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K)),
                "the reference files cover " + seen);
    }

    @Test
    void refusesWhatTheKernelsCannotDecode() throws Exception {
        // stories260K: F32, but a hidden size of 172 (not a multiple of 8).
        try (LlamaModel model = LlamaModel.load(
                SHARED.resolve("models/stories260K.gguf"), Thread.ofPlatform().factory(), 1)) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> new WeightLayout(model.weights()));
            assertTrue(e.getMessage().contains("multiple of 8"), e.getMessage());
        }
    }

    // ---- decode8 of anvil.cuh, in Java ----

    static int u8(MemorySegment m, long at) {
        return m.get(ValueLayout.JAVA_BYTE, at) & 0xFF;
    }

    static float f16(MemorySegment m, long at) {
        return Float.float16ToFloat((short) (u8(m, at) | (u8(m, at + 1) << 8)));
    }

    static void decode8(GgmlType type, MemorySegment m, long row, int g, float[] v, int o) {
        switch (type) {
            case F32 -> {
                for (int i = 0; i < 8; i++) v[o + i] = m.get(ValueLayout.JAVA_FLOAT_UNALIGNED, row + 32L * g + 4 * i);
            }
            case F16 -> {
                for (int i = 0; i < 8; i++) v[o + i] = f16(m, row + 16L * g + 2 * i);
            }
            case BF16 -> {
                for (int i = 0; i < 8; i++)
                    v[o + i] = Float.intBitsToFloat(
                            (u8(m, row + 16L * g + 2 * i) | (u8(m, row + 16L * g + 2 * i + 1) << 8)) << 16);
            }
            case Q8_0 -> {
                long b = row + (long) (g >> 2) * 34;
                float d = f16(m, b);
                long q = b + 2 + 8 * (g & 3);
                for (int i = 0; i < 8; i++) v[o + i] = d * (float) m.get(ValueLayout.JAVA_BYTE, q + i);
            }
            case Q4_0 -> {
                long b = row + (long) (g >> 2) * 18;
                float d = f16(m, b);
                int part = g & 3;
                long q = b + 2 + 8 * (part & 1);
                int shift = part >= 2 ? 4 : 0;
                for (int i = 0; i < 8; i++) v[o + i] = d * (float) (((u8(m, q + i) >> shift) & 0x0F) - 8);
            }
            case Q4_K, Q5_K -> {
                boolean five = type == GgmlType.Q5_K;
                long b = row + (long) (g >> 5) * (five ? 176 : 144);
                int e = 8 * (g & 31), sub = e >> 5, l0 = e & 31, c = sub >> 1;
                long s = b + 4;
                float sc, mn;
                if (sub < 4) {
                    sc = u8(m, s + sub) & 63;
                    mn = u8(m, s + sub + 4) & 63;
                } else {
                    sc = (u8(m, s + sub + 4) & 0x0F) | ((u8(m, s + sub - 4) >> 6) << 4);
                    mn = (u8(m, s + sub + 4) >> 4) | ((u8(m, s + sub) >> 6) << 4);
                }
                float d = f16(m, b) * sc, mm = f16(m, b + 2) * mn;
                long qs = b + (five ? 48 : 16) + 32L * c + l0;
                int shift = (sub & 1) != 0 ? 4 : 0;
                for (int i = 0; i < 8; i++) {
                    int q = (u8(m, qs + i) >> shift) & 0x0F;
                    if (five) q |= ((u8(m, b + 16 + l0 + i) >> sub) & 1) << 4;
                    v[o + i] = d * (float) q - mm;
                }
            }
            case Q6_K -> {
                long b = row + (long) (g >> 5) * 210;
                int e = 8 * (g & 31), half = e >> 7, k = (e >> 5) & 3, l0 = e & 31;
                long ql = b + 64L * half + 32L * (k & 1) + l0, qh = b + 128 + 32L * half + l0;
                float d =
                        f16(m, b + 208) * (float) m.get(ValueLayout.JAVA_BYTE, b + 192 + 8L * half + 2 * k + (l0 >> 4));
                int shift = k >= 2 ? 4 : 0;
                for (int i = 0; i < 8; i++) {
                    int q = ((u8(m, ql + i) >> shift) & 0x0F) | (((u8(m, qh + i) >> (2 * k)) & 3) << 4);
                    v[o + i] = d * (float) (q - 32);
                }
            }
            default -> throw new IllegalArgumentException(type.toString());
        }
    }
}
