package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufWriterTest {

    @TempDir
    Path dir;

    @Test
    void everythingWrittenIsReadBackIdentically() throws IOException {
        Path file = dir.resolve("m.gguf");
        float[] norm = {1f, -2.5f, 3.25f, 0f, 1e-7f, 65536f, -0f, 7f};
        float[] matrix = new float[64 * 3];
        for (int i = 0; i < matrix.length; i++) matrix[i] = (float) Math.sin(i) * 0.1f;
        byte[] q8 = Quantizer.quantize(GgmlType.Q8_0, matrix);
        byte[] f16 = Quantizer.quantize(GgmlType.F16, matrix);
        try (GgufWriter w = new GgufWriter(file)) {
            w.putString("general.architecture", "llama")
                    .putString("general.name", "ünïcode name ✓")
                    .putUInt8("u8", 200)
                    .putInt8("i8", -5)
                    .putUInt16("u16", 60000)
                    .putInt16("i16", -300)
                    .putUInt32("u32", 123456)
                    .putInt32("i32", -123456)
                    .putUInt64("u64", 1L << 40)
                    .putInt64("i64", -(1L << 40))
                    .putFloat32("f32", 1.5e-5f)
                    .putFloat64("f64", Math.PI)
                    .putBool("yes", true)
                    .putBool("no", false)
                    .putStringArray("strings", new String[] {"a", "", "Ġhello", "<|im_end|>"})
                    .putInt32Array("ints", new int[] {1, 3, -7})
                    .putFloat32Array("floats", new float[] {0.5f, -1f});
            w.addTensor("norm", GgmlType.F32, 8);
            w.addTensor("w.q8", GgmlType.Q8_0, 64, 3);
            w.addTensor("w.f16", GgmlType.F16, 64, 3);
            w.writeTensor("norm", norm);
            w.writeTensor("w.q8", q8);
            // Stream the F16 tensor in two pieces to exercise incremental writes.
            w.beginTensor("w.f16");
            w.writeValues(matrix, 0, 64);
            w.writeValues(matrix, 64, 128);
        }

        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(3, f.version());
            assertEquals("llama", f.getString("general.architecture"));
            assertEquals("ünïcode name ✓", f.getString("general.name"));
            assertEquals(200, f.getInt("u8"));
            assertEquals(-5, f.getInt("i8"));
            assertEquals(60000, f.getInt("u16"));
            assertEquals(-300, f.getInt("i16"));
            assertEquals(123456, f.getInt("u32"));
            assertEquals(-123456, f.getInt("i32"));
            assertEquals(1L << 40, f.metadata().get("u64"));
            assertEquals(-(1L << 40), f.metadata().get("i64"));
            assertEquals(1.5e-5f, f.getFloat("f32", 0));
            assertEquals(Math.PI, f.metadata().get("f64"));
            assertEquals(true, f.getBoolean("yes", false));
            assertEquals(false, f.getBoolean("no", true));
            assertArrayEquals(new String[] {"a", "", "Ġhello", "<|im_end|>"}, f.getStringArray("strings"));
            assertArrayEquals(new int[] {1, 3, -7}, f.getIntArray("ints"));
            assertArrayEquals(new float[] {0.5f, -1f}, f.getFloatArray("floats"));
            assertEquals(
                    List.of(
                            "general.architecture",
                            "general.name",
                            "u8",
                            "i8",
                            "u16",
                            "i16",
                            "u32",
                            "i32",
                            "u64",
                            "i64",
                            "f32",
                            "f64",
                            "yes",
                            "no",
                            "strings",
                            "ints",
                            "floats"),
                    List.copyOf(f.metadata().keySet()));

            assertEquals(
                    List.of("norm", "w.q8", "w.f16"), List.copyOf(f.tensors().keySet()));
            GgufFile.Tensor n = f.tensor("norm");
            assertEquals(GgmlType.F32, n.type());
            assertArrayEquals(new long[] {8}, n.shape());
            assertArrayEquals(
                    norm,
                    n.data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN)));
            GgufFile.Tensor t8 = f.tensor("w.q8");
            assertEquals(GgmlType.Q8_0, t8.type());
            assertArrayEquals(new long[] {64, 3}, t8.shape());
            assertArrayEquals(q8, t8.data().toArray(ValueLayout.JAVA_BYTE));
            GgufFile.Tensor t16 = f.tensor("w.f16");
            assertEquals(GgmlType.F16, t16.type());
            assertArrayEquals(f16, t16.data().toArray(ValueLayout.JAVA_BYTE));
            for (GgufFile.Tensor t : f.tensors().values()) {
                assertEquals(0, (f.dataOffset() + t.offset()) % 32, t.name() + " is 32-byte aligned");
            }
            assertEquals(
                    f.dataOffset() + f.tensor("w.f16").offset() + f16.length, Files.size(file), "no trailing bytes");
        }
    }

    @Test
    void customAlignmentIsHonoured() throws IOException {
        Path file = dir.resolve("a.gguf");
        try (GgufWriter w = new GgufWriter(file)) {
            w.putUInt32("general.alignment", 64);
            w.addTensor("a", GgmlType.F32, 3);
            w.addTensor("b", GgmlType.F32, 5);
            w.writeTensor("a", new float[] {1, 2, 3});
            w.writeTensor("b", new float[] {4, 5, 6, 7, 8});
        }
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(0, f.dataOffset() % 64);
            assertEquals(64, f.tensor("b").offset());
            assertEquals(8f, f.tensor("b").data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 4));
        }
    }

    @Test
    void misuseIsRejectedWithAClearMessage() throws IOException {
        GgufWriter w = new GgufWriter(dir.resolve("bad.gguf"));
        w.addTensor("first", GgmlType.F32, 4);
        w.addTensor("second", GgmlType.F32, 4);
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("first", GgmlType.F32, 4));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("odd", GgmlType.Q8_0, 40));
        IllegalStateException order = assertThrows(IllegalStateException.class, () -> w.beginTensor("second"));
        assertTrue(order.getMessage().contains("expected first"), order.getMessage());
        w.beginTensor("first");
        assertThrows(IllegalStateException.class, () -> w.write(new byte[20], 0, 20));
        w.write(new byte[16], 0, 16);
        assertThrows(IllegalStateException.class, () -> w.putString("late", "x"));
        IllegalStateException unwritten = assertThrows(IllegalStateException.class, w::close);
        assertTrue(unwritten.getMessage().contains("second"), unwritten.getMessage());
    }
}
