package dev.anvil.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.anvil.engine.GgmlType;
import dev.anvil.engine.GgufFile;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

class QuantizationNamesTest {

    @Test
    void mapsLlamaCppFileTypes() {
        assertEquals("F32", QuantizationNames.forFileType(0));
        assertEquals("F16", QuantizationNames.forFileType(1));
        assertEquals("Q4_0", QuantizationNames.forFileType(2));
        assertEquals("Q8_0", QuantizationNames.forFileType(7));
        assertEquals("Q5_1", QuantizationNames.forFileType(9));
        assertEquals("Q3_K_M", QuantizationNames.forFileType(12));
        assertEquals("Q4_K_S", QuantizationNames.forFileType(14));
        assertEquals("Q4_K_M", QuantizationNames.forFileType(15));
        assertEquals("Q5_K_M", QuantizationNames.forFileType(17));
        assertEquals("Q6_K", QuantizationNames.forFileType(18));
        assertEquals("IQ4_XS", QuantizationNames.forFileType(30));
        assertEquals("BF16", QuantizationNames.forFileType(32));
        assertEquals("TQ2_0", QuantizationNames.forFileType(37));
    }

    @Test
    void guessedFlagIsIgnoredAndUnknownTypesHaveNoName() {
        assertEquals("Q4_K_M", QuantizationNames.forFileType(1024 | 15));
        assertNull(QuantizationNames.forFileType(5)); // removed from llama.cpp (was Q4_2)
        assertNull(QuantizationNames.forFileType(6));
        assertNull(QuantizationNames.forFileType(99));
    }

    private static GgufFile.Tensor tensor(GgmlType type, long... shape) {
        return new GgufFile.Tensor("t", type, shape, 0, MemorySegment.NULL);
    }

    @Test
    void dominantTypeCountsMatricesNotNormVectors() {
        // A mixed Q4_K_M-like file: more Q4_K elements than Q6_K, and a huge F32 vector that must not win.
        List<GgufFile.Tensor> tensors = List.of(
                tensor(GgmlType.Q4_K, 256, 1000), tensor(GgmlType.Q6_K, 256, 600), tensor(GgmlType.F32, 10_000_000));
        assertEquals(GgmlType.Q4_K, QuantizationNames.dominantType(tensors));
        assertEquals(
                GgmlType.F32,
                QuantizationNames.dominantType(List.of(tensor(GgmlType.F32, 64), tensor(GgmlType.F16, 32))));
        assertNull(QuantizationNames.dominantType(List.of()));
    }

    @Test
    void namesReferenceFilesFromTheirHeaders() throws Exception {
        try (GgufFile f = GgufFile.open(TestFiles.referenceModel("ref-spm-q8_0.gguf"))) {
            assertEquals("Q8_0", QuantizationNames.of(f));
        }
        try (GgufFile f = GgufFile.open(TestFiles.referenceModel("ref-bpe-q4_k_m.gguf"))) {
            assertEquals("Q4_K_M", QuantizationNames.of(f));
        }
        try (GgufFile f = GgufFile.open(TestFiles.referenceModel("ref-spm-f16.gguf"))) {
            assertEquals("F16", QuantizationNames.of(f));
        }
        // stories260K.gguf has no general.file_type: named after its dominant (only) tensor type.
        try (GgufFile f = GgufFile.open(TestFiles.storiesGguf())) {
            assertNull(f.metadata().get("general.file_type"));
            assertEquals("F32", QuantizationNames.of(f));
        }
    }
}
