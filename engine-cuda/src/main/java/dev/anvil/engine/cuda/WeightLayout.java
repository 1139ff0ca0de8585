package dev.anvil.engine.cuda;

import dev.anvil.engine.GgmlType;
import dev.anvil.engine.ModelWeights;
import dev.anvil.engine.WeightMatrix;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where each weight matrix of a model lies in its one device allocation: the bytes of the GGUF encoding exactly as in
 * the file (rows of {@code rowBytes}, no repacking), each tensor starting at a 256-byte boundary so that the
 * kernels' 16-byte loads of F16/BF16/F32 rows are aligned. Norm vectors and RoPE tables are small and uploaded as
 * separate fp32/fp64 buffers.
 */
final class WeightLayout {

    /** Encodings the kernels decode (decode8 in anvil.cuh). */
    static final Set<GgmlType> SUPPORTED = EnumSet.of(
            GgmlType.F32,
            GgmlType.F16,
            GgmlType.BF16,
            GgmlType.Q8_0,
            GgmlType.Q4_0,
            GgmlType.Q4_K,
            GgmlType.Q5_K,
            GgmlType.Q6_K);

    static final int ALIGN = 256;

    /** One tensor's place: {@code offset} bytes into the allocation, {@code rows} rows of {@code rowBytes}. */
    record Slot(WeightMatrix matrix, long offset, long rowBytes) {
        long bytes() {
            return rowBytes * matrix.rows();
        }
    }

    private final Map<WeightMatrix, Slot> slots = new IdentityHashMap<>();
    private final List<Slot> order = new ArrayList<>();
    private final long totalBytes;

    /**
     * Lays out the embedding, every block's projections and the classifier (once when tied to the embedding).
     *
     * @throws IllegalArgumentException naming a tensor whose encoding or row length the kernels cannot take
     */
    WeightLayout(ModelWeights w) {
        List<WeightMatrix> all = new ArrayList<>();
        all.add(w.tokenEmbedding());
        all.addAll(w.matmulMatrices());
        long at = 0;
        for (WeightMatrix m : all) {
            if (slots.containsKey(m)) continue;
            if (!SUPPORTED.contains(m.type()))
                throw new IllegalArgumentException("tensor " + m.name() + " is " + m.type()
                        + ", which the CUDA kernels do not decode (they decode " + SUPPORTED + ")");
            if (m.cols() % 8 != 0)
                throw new IllegalArgumentException("tensor " + m.name() + " has rows of " + m.cols()
                        + " weights; the CUDA kernels need a multiple of 8");
            Slot s = new Slot(m, at, m.type().bytesFor(m.cols()));
            slots.put(m, s);
            order.add(s);
            at = align(at + s.bytes());
        }
        this.totalBytes = at;
    }

    static long align(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    Slot slot(WeightMatrix m) {
        Slot s = slots.get(m);
        if (s == null) throw new IllegalArgumentException("tensor " + m.name() + " is not in the layout");
        return s;
    }

    /** Every tensor, in upload order (ascending offsets). */
    List<Slot> slots() {
        return List.copyOf(order);
    }

    long totalBytes() {
        return totalBytes;
    }
}
