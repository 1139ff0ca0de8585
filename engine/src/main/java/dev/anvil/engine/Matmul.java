package dev.anvil.engine;

import java.lang.foreign.Arena;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The matmuls of one model: {@code outs[m][t][r] = dot(ws[m] row r, x[t])}, dispatched by the weights'
 * encoding. Q8_0/Q4_0/Q5_0/Q4_K matrices are repacked at load into {@link PackedWeights} (rows as vector lanes) and run
 * through its int8 kernels; every other encoding runs the fused per-row dot of {@link WeightMatrix} or, for
 * enough tokens, dequantizes rows once into per-thread scratch and runs the float register tiles of
 * {@link QuantKernels}. Every path gives each output the same arithmetic whatever the number of tokens, so the
 * choice between them is purely a speed choice and results stay batch invariant.
 *
 * <p>Like the model, one call at a time; each call is parallel on the model's {@link ComputePool}.
 */
final class Matmul implements AutoCloseable {

    /**
     * From this many tokens on, a matmul dequantizes each row once and runs the 4x2 float tile kernel instead
     * of the fused per-token dot. Measured (thread CPU time, SmolLM2-135M ffn_up Q8_0 576x1536): fused dot
     * 240 us per token; vectorized Q8_0 dequantize 180 us per matrix + tile kernel 107 us per token, so the
     * switch pays from 2 tokens. Q4_0 dequantizes with vector code too; the other types dequantize with scalar
     * code (about 2-3x slower), hence 4.
     */
    static int dequantMinTokens(GgmlType type) {
        return type == GgmlType.Q8_0 || type == GgmlType.Q4_0 || type == GgmlType.F32 ? 2 : 4;
    }

    /**
     * From this many tokens on, the packed matmul widens each unit of rows to floats once and runs the 8-token
     * register tile; below it, groups of up to four tokens stream the int8 unit through
     * {@link PackedWeights#gemvTokens}. All give bit-identical results, so the switch is purely a speed choice.
     */
    static final int PACKED_TILE_MIN_TOKENS = 8;

    private final ComputePool pool;
    /** Repacked copies of the Q8_0/Q4_0/Q5_0/Q4_K matrices (off-heap, {@link #packedArena}); used whenever present. */
    private final Map<WeightMatrix, PackedWeights> packed = new IdentityHashMap<>();

    private final Arena packedArena = Arena.ofShared();
    private final float[][] workerRows; // per worker: four dequantized rows
    private final float[][] workerPanel; // per worker: a widened packed unit
    private final short[][] workerSums; // per worker: four tokens' int16 block sums of a Q5_0/Q4_K unit

    /**
     * Repacks every Q8_0/Q4_0/Q5_0/Q4_K matrix of {@code weights} (the blocks and the classifier), in parallel. Costs a
     * second copy of those weights off the heap and a fraction of a second at load; buys matmul kernels without
     * horizontal sums that read each weight once per step whatever the batch. The token embedding keeps being read
     * from the file (one row per token).
     */
    Matmul(ModelWeights weights, ComputePool pool) {
        this(
                weights.matmulMatrices(),
                Math.max(
                        weights.config().qDim(),
                        Math.max(weights.config().dim(), weights.config().hiddenDim())),
                pool);
    }

    /**
     * The matmuls of any network ({@link BertEncoder} too): {@code matrices} are repacked as above,
     * {@code maxCols} is the widest input any of them takes.
     */
    Matmul(java.util.List<WeightMatrix> matrices, int maxCols, ComputePool pool) {
        this.pool = pool;
        try {
            this.workerRows = new float[pool.size()][4 * maxCols];
            int cols = 0;
            for (WeightMatrix w : matrices) {
                if (!PackedWeights.supports(w.type()) || packed.containsKey(w)) continue;
                PackedWeights p = PackedWeights.allocate(w, packedArena);
                pool.parallelFor(p.units, 8, (a, b, worker) -> p.packUnits(w, a, b));
                packed.put(w, p);
                cols = Math.max(cols, w.cols());
            }
            this.workerPanel = new float[pool.size()][packed.isEmpty() ? 0 : PackedWeights.panelFloats(cols)];
            this.workerSums = new short[pool.size()][packed.isEmpty() ? 0 : PackedWeights.blockSumShorts(cols)];
        } catch (RuntimeException | Error e) {
            packedArena.close();
            throw e;
        }
    }

    /**
     * outs[m][t][r] = dot(ws[m] row r, x[t]) for every matrix m (all sharing the input width), token t < T
     * and row r. The rows of all matrices form one parallel loop, so small matrices (K, V) share a single
     * dispatch with Q. Each weight row is read from memory once per call: for few tokens the fused kernel
     * dots it with each token while it sits in L1; for more tokens four rows at a time are dequantized into
     * per-thread scratch and dotted with every token with plain float FMAs.
     */
    void multiply(float[] input, int T, WeightMatrix[] ws, float[][] outs) {
        // Round the activations the way llama.cpp does for these weight types (see QuantKernels.roundActivations):
        // one group shares one rounding, so a mixed group (e.g. Q4_K with an F16 matrix) runs as one call per
        // matrix; so does a group led by a packed matrix that is not packed throughout.
        QuantKernels.ActivationFormat format = QuantKernels.activationFormat(ws[0].type());
        boolean packedGroup = packed.containsKey(ws[0]);
        for (WeightMatrix w : ws) {
            if (QuantKernels.activationFormat(w.type()) != format || (packedGroup && !packed.containsKey(w))) {
                for (int m = 0; m < ws.length; m++)
                    multiply(input, T, new WeightMatrix[] {ws[m]}, new float[][] {outs[m]});
                return;
            }
        }
        if (packedGroup) multiplyPacked(input, T, ws, outs);
        else multiplyRows(input, T, ws, outs, format);
    }

    /**
     * Where each matrix's work items start in the group's one parallel loop ({@code itemsOf(m)} items each), the
     * total at the end; checks that the matrices share the input width.
     */
    private static int[] itemStarts(WeightMatrix[] ws, java.util.function.IntUnaryOperator itemsOf) {
        int[] starts = new int[ws.length + 1];
        for (int m = 0; m < ws.length; m++) {
            if (ws[m].cols() != ws[0].cols())
                throw new IllegalArgumentException("matrices of one matmul must share the input width");
            starts[m + 1] = starts[m] + itemsOf.applyAsInt(m);
        }
        return starts;
    }

    /** {@link #multiply} on weights read from the file: fused dots, or dequantized rows and float tiles. */
    private void multiplyRows(
            float[] input, int T, WeightMatrix[] ws, float[][] outs, QuantKernels.ActivationFormat format) {
        int cols = ws[0].cols();
        int[] starts = itemStarts(ws, m -> ws[m].rows());
        float[] x = new float[T * cols];
        QuantKernels.roundActivations(format, input, x, T * cols);
        boolean dequant = T >= dequantMinTokens(ws[0].type());
        int groups =
                (starts[ws.length] + 3) / 4; // unit of work: 4 rows of one matrix (a group may straddle: handled below)
        pool.parallelFor(groups, dequant ? 4 : 16, (a, b, worker) -> {
            float[] scratch = workerRows[worker];
            for (int g = a; g < b; g++) {
                int row0 = g * 4, rowEnd = Math.min(row0 + 4, starts[ws.length]);
                int m = 0;
                while (starts[m + 1] <= row0) m++;
                WeightMatrix w = ws[m];
                float[] out = outs[m];
                int rows = w.rows();
                int r0 = row0 - starts[m];
                if (dequant && rowEnd <= starts[m + 1] && rowEnd - row0 == 4) {
                    for (int i = 0; i < 4; i++) w.dequantizeRow(r0 + i, scratch, i * cols);
                    int t = 0;
                    for (; t + 1 < T; t += 2) { // 4 rows x 2 tokens register tile
                        QuantKernels.dot4x2(
                                scratch,
                                0,
                                cols,
                                x,
                                t * cols,
                                (t + 1) * cols,
                                cols,
                                out,
                                t * rows + r0,
                                (t + 1) * rows + r0);
                    }
                    for (; t < T; t++) QuantKernels.dot4(scratch, 0, cols, x, t * cols, cols, out, t * rows + r0);
                } else {
                    for (int row = row0; row < rowEnd; row++) {
                        while (starts[m + 1] <= row) m++;
                        WeightMatrix wm = ws[m];
                        int r = row - starts[m];
                        for (int t = 0; t < T; t++) outs[m][t * wm.rows() + r] = wm.dot(r, x, t * cols);
                    }
                }
            }
        });
    }

    /**
     * {@link #multiply} on repacked weights: the activations are quantized once per token to int8 blocks (ggml's
     * quantize_row_q8_0: the values llama.cpp multiplies), each unit of 16 rows is one work item: streamed as
     * int8 by the few-token kernels, or widened once and run through the 8-token register tile from
     * {@link #PACKED_TILE_MIN_TOKENS} tokens on.
     */
    private void multiplyPacked(float[] input, int T, WeightMatrix[] ws, float[][] outs) {
        int cols = ws[0].cols();
        PackedWeights[] ps = new PackedWeights[ws.length];
        for (int m = 0; m < ws.length; m++) ps[m] = packed.get(ws[m]);
        int[] starts = itemStarts(ws, m -> ps[m].units);
        PackedInput in = new PackedInput(input, T, cols, ps[0].type);
        // One work item per unit; the pool's guided chunks give each thread long contiguous runs of units first
        // (streaming reads) and short ones at the end (balance).
        int units = starts[ws.length];
        if (!in.tile) {
            pool.parallelFor(units, 1, (a, b, worker) -> {
                int m = 0;
                for (int g = a; g < b; g++) {
                    while (starts[m + 1] <= g) m++;
                    ps[m].gemvTokens(g - starts[m], in.activations, outs[m], workerSums[worker]);
                }
            });
            return;
        }
        pool.parallelFor(in.tiles, 1, (a, b, worker) -> {
            for (int i = a; i < b; i++) in.interleaveTile(i);
        });
        pool.parallelFor(units, 1, (a, b, worker) -> {
            float[] panel = workerPanel[worker];
            float[] acc = new float[PackedWeights.UNIT_ROWS * PackedWeights.TILE_TOKENS];
            int m = 0;
            for (int g = a; g < b; g++) {
                while (starts[m + 1] <= g) m++;
                in.multiplyTiles(ps[m], g - starts[m], outs[m], panel, acc);
            }
        });
    }

    /** The activations of one packed matmul: int8 blocks per token and, for the tile path, token panels. */
    private static final class PackedInput {
        final int T, cols, tiles, tileFloats;
        final boolean tile;
        final PackedWeights.Activations activations;
        final float[] xt;

        /** {@code weightType}: that of the group's first matrix (they share one activation format). */
        PackedInput(float[] input, int T, int cols, GgmlType weightType) {
            this.T = T;
            this.cols = cols;
            this.tile = T >= PACKED_TILE_MIN_TOKENS;
            this.activations = new PackedWeights.Activations(input, T, cols, weightType, !tile);
            this.tiles = (T + PackedWeights.TILE_TOKENS - 1) / PackedWeights.TILE_TOKENS;
            this.tileFloats = PackedWeights.tokenPanelFloats(cols);
            this.xt = tile ? new float[tiles * tileFloats] : null;
        }

        void interleaveTile(int i) {
            int first = i * PackedWeights.TILE_TOKENS;
            PackedWeights.interleave(
                    activations, first, Math.min(PackedWeights.TILE_TOKENS, T - first), xt, i * tileFloats);
        }

        /** Unit {@code u} of {@code p} times every token through the widened unit and the 8-token register tile (the token panels must be interleaved). */
        void multiplyTiles(PackedWeights p, int u, float[] out, float[] panel, float[] acc) {
            int rows = p.rows, r0 = u * PackedWeights.UNIT_ROWS;
            p.widen(u, panel);
            int valid = Math.min(PackedWeights.UNIT_ROWS, rows - r0);
            for (int i = 0; i < tiles; i++) {
                PackedWeights.gemm(panel, cols, xt, i * tileFloats, acc);
                int t0 = i * PackedWeights.TILE_TOKENS, n = Math.min(PackedWeights.TILE_TOKENS, T - t0);
                for (int k = 0; k < n; k++) {
                    if (p.type == GgmlType.Q4_K)
                        p.subtractMins(panel, activations, t0 + k, acc, PackedWeights.UNIT_ROWS * k);
                    System.arraycopy(acc, PackedWeights.UNIT_ROWS * k, out, (t0 + k) * rows + r0, valid);
                }
            }
        }
    }

    /** Frees the repacked weights. */
    @Override
    public void close() {
        packedArena.close();
    }
}
