package dev.anvil.engine;

import java.lang.foreign.MemorySegment;
import java.util.EnumSet;
import java.util.Set;

/**
 * A 2-D weight tensor {@code [rows][cols]} in one of the GGML encodings, left where it lies (normally the
 * read-only mapping of the model file: nothing is copied to the heap). Row {@code r} holds the weights that
 * produce output element {@code r} from an input vector of length {@code cols}; in GGUF terms
 * {@code cols = ne0} and {@code rows = ne1}.
 *
 * <p>Two operations per row: {@link #dot} against a float activation vector (Vector API kernels in
 * {@link QuantKernels}) and {@link #dequantizeRow} (embedding lookup, the float fall-back path and tests).
 * Unsupported encodings are refused by the constructor, i.e. when the model is loaded.
 */
public final class WeightMatrix {

    /** Encodings the kernels implement. Everything else fails at load with {@link UnsupportedModelException}. */
    public static final Set<GgmlType> SUPPORTED = EnumSet.of(
            GgmlType.F32,
            GgmlType.F16,
            GgmlType.BF16,
            GgmlType.Q8_0,
            GgmlType.Q4_0,
            GgmlType.Q4_1,
            GgmlType.Q5_0,
            GgmlType.Q5_1,
            GgmlType.Q4_K,
            GgmlType.Q5_K,
            GgmlType.Q6_K);

    private final String name;
    private final GgmlType type;
    private final int rows;
    private final int cols;
    private final long rowBytes;
    private final MemorySegment data;

    public WeightMatrix(String name, GgmlType type, int rows, int cols, MemorySegment data) {
        if (!SUPPORTED.contains(type)) {
            throw new UnsupportedModelException("tensor " + name + " uses weight type " + type
                    + ", which this engine does not support (supported: " + SUPPORTED + ")");
        }
        if (cols % type.blockSize != 0) {
            throw new UnsupportedModelException("tensor " + name + ": row length " + cols + " is not a multiple of the "
                    + type + " block size " + type.blockSize);
        }
        this.name = name;
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = type.bytesFor(cols);
        if (data.byteSize() < rowBytes * rows) {
            throw new UnsupportedModelException("tensor " + name + " holds " + data.byteSize() + " bytes, " + rows + "x"
                    + cols + " " + type + " needs " + rowBytes * rows);
        }
        this.data = data;
    }

    /** Wraps a GGUF tensor of shape {@code [cols, rows]} (or {@code [cols]}, one row). */
    public static WeightMatrix of(GgufFile.Tensor t) {
        long[] s = t.shape();
        long rows = 1;
        for (int i = 1; i < s.length; i++) rows *= s[i];
        if (s[0] > Integer.MAX_VALUE || rows > Integer.MAX_VALUE) {
            throw new UnsupportedModelException(
                    "tensor " + t.name() + " is too large: " + java.util.Arrays.toString(s));
        }
        return new WeightMatrix(t.name(), t.type(), (int) rows, (int) s[0], t.data());
    }

    /**
     * Rows {@code [first, first + count)} as a matrix of their own, a view of the same memory: how fused tensors
     * (Phi-3's {@code attn_qkv}, {@code ffn_up}) are split at load. Every encoding quantizes rows independently, so a
     * row range is a valid tensor of the same type.
     */
    public WeightMatrix rowRange(String name, int first, int count) {
        if (first < 0 || count <= 0 || (long) first + count > rows) {
            throw new UnsupportedModelException("tensor " + this.name + " has " + rows + " rows, cannot take rows "
                    + first + ".." + ((long) first + count - 1) + " as " + name);
        }
        return new WeightMatrix(name, type, count, cols, data.asSlice(first * rowBytes, count * rowBytes));
    }

    public String name() {
        return name;
    }

    public GgmlType type() {
        return type;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public MemorySegment data() {
        return data;
    }

    /** Dot product of row {@code row} with {@code x[xOff .. xOff+cols)}. */
    public float dot(int row, float[] x, int xOff) {
        long off = row * rowBytes;
        return switch (type) {
            case F32 -> QuantKernels.dotF32(data, off, x, xOff, cols);
            case Q8_0 -> QuantKernels.dotQ8_0(data, off, x, xOff, cols);
            case Q4_0 -> QuantKernels.dotQ4_0(data, off, x, xOff, cols);
            case F16 -> QuantKernels.dotF16(data, off, x, xOff, cols);
            case BF16 -> QuantKernels.dotBF16(data, off, x, xOff, cols);
            case Q4_1 -> QuantKernels.dotQ4_1(data, off, x, xOff, cols);
            case Q5_0 -> QuantKernels.dotQ5_0(data, off, x, xOff, cols);
            case Q5_1 -> QuantKernels.dotQ5_1(data, off, x, xOff, cols);
            case Q4_K -> QuantKernels.dotQ4_K(data, off, x, xOff, cols);
            case Q5_K -> QuantKernels.dotQ5_K(data, off, x, xOff, cols);
            case Q6_K -> QuantKernels.dotQ6_K(data, off, x, xOff, cols);
            default -> throw new IllegalStateException(type.toString());
        };
    }

    /** Writes row {@code row}, decoded to floats, into {@code dst[dstOff .. dstOff+cols)}. */
    public void dequantizeRow(int row, float[] dst, int dstOff) {
        QuantKernels.dequantize(type, data, row * rowBytes, dst, dstOff, cols);
    }
}
