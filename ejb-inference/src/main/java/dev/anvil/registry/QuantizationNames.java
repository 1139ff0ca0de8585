package dev.anvil.registry;

import dev.anvil.engine.GgmlType;
import dev.anvil.engine.GgufFile;
import java.util.Collection;
import java.util.EnumMap;
import java.util.Map;

/**
 * Names a GGUF file's quantization the way llama.cpp users know it (Q4_K_M, Q8_0, F16...).
 * The authoritative source is the file's {@code general.file_type} (llama.cpp's {@code llama_ftype}
 * enumeration); files without it, or with a value unknown here, are named after their dominant weight type.
 */
public final class QuantizationNames {

    /** llama.cpp sets this bit on file types it guessed while loading; the remaining bits are the type. */
    private static final int GUESSED_FLAG = 1024;

    private QuantizationNames() {}

    /** The name of a {@code llama_ftype} value, or null when the value is not one llama.cpp defines. */
    public static String forFileType(int fileType) {
        return switch (fileType & ~GUESSED_FLAG) {
            case 0 -> "F32";
            case 1 -> "F16";
            case 2 -> "Q4_0";
            case 3 -> "Q4_1";
            case 4 -> "Q4_1_SOME_F16";
            case 7 -> "Q8_0";
            case 8 -> "Q5_0";
            case 9 -> "Q5_1";
            case 10 -> "Q2_K";
            case 11 -> "Q3_K_S";
            case 12 -> "Q3_K_M";
            case 13 -> "Q3_K_L";
            case 14 -> "Q4_K_S";
            case 15 -> "Q4_K_M";
            case 16 -> "Q5_K_S";
            case 17 -> "Q5_K_M";
            case 18 -> "Q6_K";
            case 19 -> "IQ2_XXS";
            case 20 -> "IQ2_XS";
            case 21 -> "Q2_K_S";
            case 22 -> "IQ3_XS";
            case 23 -> "IQ3_XXS";
            case 24 -> "IQ1_S";
            case 25 -> "IQ4_NL";
            case 26 -> "IQ3_S";
            case 27 -> "IQ3_M";
            case 28 -> "IQ2_S";
            case 29 -> "IQ2_M";
            case 30 -> "IQ4_XS";
            case 31 -> "IQ1_M";
            case 32 -> "BF16";
            case 33 -> "Q4_0_4_4";
            case 34 -> "Q4_0_4_8";
            case 35 -> "Q4_0_8_8";
            case 36 -> "TQ1_0";
            case 37 -> "TQ2_0";
            default -> null;
        };
    }

    /**
     * The tensor type holding the most elements among the weight matrices (tensors of two or more
     * dimensions); norms and biases are small F32 vectors in almost every file and would say nothing.
     * Falls back to all tensors when there are no matrices. Null for a file without tensors.
     */
    public static GgmlType dominantType(Collection<GgufFile.Tensor> tensors) {
        Map<GgmlType, Long> matrices = new EnumMap<>(GgmlType.class);
        Map<GgmlType, Long> all = new EnumMap<>(GgmlType.class);
        for (GgufFile.Tensor t : tensors) {
            all.merge(t.type(), t.elementCount(), Long::sum);
            if (t.shape().length >= 2) matrices.merge(t.type(), t.elementCount(), Long::sum);
        }
        Map<GgmlType, Long> counted = matrices.isEmpty() ? all : matrices;
        GgmlType best = null;
        long bestCount = -1;
        for (Map.Entry<GgmlType, Long> e :
                counted.entrySet()) { // EnumMap iterates in declaration order: ties go to the first
            if (e.getValue() > bestCount) {
                best = e.getKey();
                bestCount = e.getValue();
            }
        }
        return best;
    }

    /** The quantization name of an open GGUF file: from {@code general.file_type} when known, else the dominant type. */
    public static String of(GgufFile gguf) {
        if (gguf.metadata().get("general.file_type") instanceof Number n) {
            String name = forFileType(n.intValue());
            if (name != null) return name;
        }
        GgmlType dominant = dominantType(gguf.tensors().values());
        return dominant == null ? null : dominant.name();
    }
}
