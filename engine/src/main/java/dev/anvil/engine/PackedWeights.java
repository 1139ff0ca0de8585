package dev.anvil.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * A Q8_0 or Q4_0 weight matrix repacked at load time, off the Java heap, so that vector lanes are output rows:
 * the kernels broadcast one activation value and multiply it with the same column of {@link #UNIT_ROWS} rows at
 * once, and no dot product ever needs a horizontal sum.
 *
 * <p>Layout: rows are taken in units of {@link #UNIT_ROWS} (the float vector length of this machine: 8 with
 * AVX2, 16 with AVX-512; the last unit padded with zero rows). A unit stores its blocks of 32 columns one after
 * the other; a block is the unit's row scales as float32, then the quantized values column by column:
 * <pre>
 * Q8_0:  float dw[R] ; int8 q[32][R]      q[i][r] = value of row r, column i
 * Q4_0:  float dw[R] ; u8  qs[8][R][2]    qs[p][r][k] = row r's ggml byte 2p+k: low nibble column 2p+k,
 *                                         high nibble column 2p+k+16
 * </pre>
 *
 * <p>Arithmetic (the reason for this class): the activations are int8 blocks ({@code x = dx*qx},
 * {@link QuantKernels#quantizeQ8_0}, the values llama.cpp multiplies). Keeping {@code qx} as integer-valued
 * floats, the block sum {@code P_b = sum_i qw[i]*qx[i]} over 32 values is EXACT in float (|qw*qx| <= 128*127, the
 * sum stays below 2^24) whatever the order, the number of partial sums and the vector width. A row's result is
 * defined as
 * <pre>
 * acc = 0 ; for each block b in order: acc = fma(P_b, dw_b * dx_b, acc)
 * </pre>
 * ({@link #referenceDot} spells it out) and every kernel here computes exactly that, lane by lane. So the
 * one-token kernel ({@link #gemv}) and the many-token tile ({@link #gemm}) agree bit for bit, on any vector
 * width, and a sequence's logits do not depend on its batch. It is llama.cpp's formula too (integer block dot
 * times {@code d_w*d_x}), up to the order in which the block terms are added.
 *
 * <p>Q4_0's few-token kernels compute {@code P_b} in int16 lanes instead, two columns per lane pair: a load of
 * {@code 2R} bytes zero-extends to the nibbles of columns {@code (2p, 2p+1)} of every row side by side, and one
 * broadcast int carries the token's two matching int8 values ({@link Activations#pairs}). Nibbles are unsigned
 * (0..15), so a lane's 16 products stay within {@code 16*15*127 = 30480 < 2^15}; the zero point comes off once
 * per block as {@code 8 * sum(qx)}. The same exact integer in about half the instructions of widening each nibble
 * to a float.
 */
final class PackedWeights {

    private static final VectorSpecies<Float> F =
            FloatVector.SPECIES_PREFERRED.length() >= 16 ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    /** Int8 vector with one lane per row of a unit (64 or 128 bits). */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(F.length() * 8));
    /** Int8 vector with two lanes per row (Q4_0's byte pairs), and the int16 and int32 vectors of the float width. */
    private static final VectorSpecies<Byte> B2 = VectorSpecies.of(byte.class, VectorShape.forBitSize(F.length() * 16));

    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, F.vectorShape());
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    /** Rows per unit: one float vector. */
    static final int UNIT_ROWS = F.length();
    /** Tokens per register tile of {@link #gemm}: 8 block sums + 1 weight vector + 1 broadcast fit 16 registers. */
    static final int TILE_TOKENS = 8;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    final GgmlType type;
    final int rows, cols, blocks, units;
    /** Bytes of quantized values per block of one unit (after its {@code 4 * UNIT_ROWS} bytes of scales). */
    private final int qBytes;

    final long blockBytes, unitBytes;
    final MemorySegment data;

    private PackedWeights(GgmlType type, int rows, int cols, MemorySegment data) {
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.blocks = cols / 32;
        this.units = (rows + UNIT_ROWS - 1) / UNIT_ROWS;
        this.qBytes = (type == GgmlType.Q8_0 ? 32 : 16) * UNIT_ROWS;
        this.blockBytes = 4L * UNIT_ROWS + qBytes;
        this.unitBytes = blockBytes * blocks;
        this.data = data;
    }

    /** Whether matrices of this type are repacked: Q8_0 and Q4_0, on hardware with at least 256-bit float vectors. */
    static boolean supports(GgmlType type) {
        return (type == GgmlType.Q8_0 || type == GgmlType.Q4_0) && FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
    }

    /** Allocates the packed copy of {@code w} in {@code arena}; fill it with {@link #packUnits} (units are independent). */
    static PackedWeights allocate(WeightMatrix w, Arena arena) {
        if (!supports(w.type())) throw new IllegalArgumentException("cannot repack weight type " + w.type());
        PackedWeights shape = new PackedWeights(w.type(), w.rows(), w.cols(), MemorySegment.NULL);
        return new PackedWeights(w.type(), w.rows(), w.cols(), arena.allocate(shape.unitBytes * shape.units, 64));
    }

    /** Packs units {@code [u0, u1)} from the original matrix {@code w} (rows past its end become zeros). */
    void packUnits(WeightMatrix w, int u0, int u1) {
        MemorySegment src = w.data();
        long rowBytes = w.type().bytesFor(cols);
        int srcBlock = w.type().typeSize, perRow = qBytes / UNIT_ROWS;
        byte[] in = new byte[qBytes], out = new byte[qBytes];
        for (int u = u0; u < u1; u++) {
            for (int b = 0; b < blocks; b++) {
                long dst = u * unitBytes + b * blockBytes;
                for (int r = 0; r < UNIT_ROWS; r++) {
                    int row = u * UNIT_ROWS + r;
                    float d = 0f;
                    if (row < rows) {
                        long o = row * rowBytes + (long) b * srcBlock;
                        d = QuantKernels.f16(src, o);
                        MemorySegment.copy(src, ValueLayout.JAVA_BYTE, o + 2, in, r * perRow, perRow);
                    } else {
                        // A padding row: value 0 (Q4_0 stores q+8, so its zero nibbles are 8), scale 0.
                        Arrays.fill(in, r * perRow, (r + 1) * perRow, type == GgmlType.Q4_0 ? (byte) 0x88 : 0);
                    }
                    data.set(F32, dst + 4L * r, d);
                }
                for (int r = 0; r < UNIT_ROWS; r++) {
                    for (int i = 0; i < perRow; i++) {
                        int at = type == GgmlType.Q8_0 ? i * UNIT_ROWS + r : (i / 2) * 2 * UNIT_ROWS + 2 * r + i % 2;
                        out[at] = in[r * perRow + i];
                    }
                }
                MemorySegment.copy(out, 0, data, ValueLayout.JAVA_BYTE, dst + 4L * UNIT_ROWS, qBytes);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Reference and kernels

    /** The defining formula, scalar, for tests: row {@code row} of {@code w} with int8 activations {@code qx[xOff..]}, scales {@code dx[dOff..]}. */
    static float referenceDot(WeightMatrix w, int row, float[] qx, int xOff, float[] dx, int dOff) {
        MemorySegment s = w.data();
        long rowOff = row * w.type().bytesFor(w.cols());
        float acc = 0f;
        for (int b = 0; b < w.cols() / 32; b++) {
            long o = rowOff + (long) b * w.type().typeSize;
            float dw = QuantKernels.f16(s, o);
            long p = 0; // exact: a long holds the integer sum
            for (int i = 0; i < 32; i++) {
                int q = w.type() == GgmlType.Q8_0
                        ? s.get(ValueLayout.JAVA_BYTE, o + 2 + i)
                        : (i < 16 ? QuantKernels.u8(s, o + 2 + i) & 15 : QuantKernels.u8(s, o + 2 + i - 16) >> 4) - 8;
                p += q * (long) qx[xOff + 32 * b + i];
            }
            acc = Math.fma((float) p, dw * dx[dOff + b], acc);
        }
        return acc;
    }

    /**
     * The activations of one matmul, rounded the way llama.cpp rounds them before Q8_0/Q4_0 weights
     * ({@link QuantKernels#quantizeQ8_0}: {@code x = dx * qx}, int8 {@code qx} per block of 32), in the forms the
     * kernels read. Token t's values start at {@code qx[t*cols]}, its scales at {@code dx[t*blocks]}.
     */
    static final class Activations {
        final int tokens, cols, blocks;
        /** The int8 values, as integer-valued floats. */
        final float[] qx;
        /** The block scales. */
        final float[] dx;
        /**
         * Columns {@code (2k, 2k+1)} as two int16 in one int (low half first: the order of int16 lanes); only
         * with {@code int16Forms}, for Q4_0's few-token kernels.
         */
        final int[] pairs;
        /** {@code 8 * sum(qx)} per block: Q4_0's zero point, taken off each integer block sum once (with {@code pairs}). */
        final int[] zeroPoints;

        /** Rounds {@code tokens} rows of {@code x}; {@code int16Forms} adds {@link #pairs} and {@link #zeroPoints}. */
        Activations(float[] x, int tokens, int cols, boolean int16Forms) {
            this.tokens = tokens;
            this.cols = cols;
            this.blocks = cols / 32;
            this.qx = new float[tokens * cols];
            this.dx = new float[tokens * blocks];
            for (int t = 0; t < tokens; t++) QuantKernels.quantizeQ8_0(x, t * cols, qx, t * cols, dx, t * blocks, cols);
            this.pairs = int16Forms ? new int[tokens * cols / 2] : null;
            this.zeroPoints = int16Forms ? new int[tokens * blocks] : null;
            if (!int16Forms) return;
            for (int k = 0; k < pairs.length; k++) pairs[k] = ((int) qx[2 * k] & 0xFFFF) | ((int) qx[2 * k + 1] << 16);
            for (int b = 0; b < zeroPoints.length; b++) {
                int sum = 0;
                for (int i = 32 * b; i < 32 * b + 32; i++) sum += (int) qx[i];
                zeroPoints[b] = 8 * sum;
            }
        }
    }

    /** One column of a unit's int8 values (one per row) at {@code off}, as floats. */
    private static FloatVector i8(MemorySegment s, long off) {
        return (FloatVector) ByteVector.fromMemorySegment(B, s, off, LE).convertShape(VectorOperators.B2F, F, 0);
    }

    /** A Q4_0 byte pair of every row at {@code off}, zero-extended: lane 2r is row r's byte 2p, lane 2r+1 its byte 2p+1. */
    private static ShortVector nibblePairs(MemorySegment s, long off) {
        return (ShortVector)
                ByteVector.fromMemorySegment(B2, s, off, LE).convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
    }

    /** A token's two int8 values of one column pair in every lane pair (see {@link Activations#pairs}). */
    private static ShortVector pair(int twoValues) {
        return IntVector.broadcast(I, twoValues).reinterpretAsShorts();
    }

    /** Row r's block sum from lanes 2r and 2r+1 (sign-extended and added), less the block's zero point, as floats. */
    private static FloatVector blockSum(ShortVector lanes, int zeroPoint) {
        IntVector v = lanes.reinterpretAsInts();
        IntVector sum = v.lanewise(VectorOperators.ASHR, 16)
                .add(v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                .sub(zeroPoint);
        return (FloatVector) sum.convert(VectorOperators.I2F, 0);
    }

    /**
     * Token {@code t} of {@code a} against unit {@code u}: {@code out[outOff + r] = row (UNIT_ROWS*u + r) . x} for
     * the unit's real rows.
     */
    void gemv(int u, Activations a, int t, float[] out, int outOff) {
        // Each kernel stores its own result: a vector returned from a call C2 does not inline would be boxed.
        if (type == GgmlType.Q8_0) gemvQ8(u, a, t, out, outOff);
        else gemvQ4(u, a, t, out, outOff);
    }

    private void gemvQ8(int u, Activations a, int t, float[] out, int outOff) {
        FloatVector acc = FloatVector.zero(F);
        MemorySegment s = data;
        float[] qx = a.qx;
        long off = u * unitBytes, scaleBytes = 4L * UNIT_ROWS;
        int step = UNIT_ROWS, d = t * blocks;
        for (int b = 0, x = t * cols; b < blocks; b++, off += blockBytes, x += 32) {
            // Four independent partial sums (column phases): exact, so any split is allowed.
            FloatVector p0 = FloatVector.zero(F), p1 = p0, p2 = p0, p3 = p0;
            long q = off + scaleBytes;
            for (int i = 0; i < 32; i += 4, q += 4L * step) {
                p0 = i8(s, q).fma(FloatVector.broadcast(F, qx[x + i]), p0);
                p1 = i8(s, q + step).fma(FloatVector.broadcast(F, qx[x + i + 1]), p1);
                p2 = i8(s, q + 2L * step).fma(FloatVector.broadcast(F, qx[x + i + 2]), p2);
                p3 = i8(s, q + 3L * step).fma(FloatVector.broadcast(F, qx[x + i + 3]), p3);
            }
            FloatVector dw = FloatVector.fromMemorySegment(F, s, off, LE);
            acc = p0.add(p1).add(p2.add(p3)).fma(dw.mul(a.dx[d + b]), acc);
        }
        store(u, acc, out, outOff);
    }

    private void gemvQ4(int u, Activations a, int t, float[] out, int outOff) {
        FloatVector acc = FloatVector.zero(F);
        MemorySegment s = data;
        int[] pairs = a.pairs;
        long off = u * unitBytes, scaleBytes = 4L * UNIT_ROWS, pairBytes = 2L * UNIT_ROWS;
        int d = t * blocks;
        for (int b = 0, k = t * cols / 2; b < blocks; b++, off += blockBytes, k += 16) {
            // Low nibbles (columns 0..15) and high nibbles (16..31) in two int16 sums: exact, see the class comment.
            ShortVector lo = ShortVector.zero(S), hi = lo;
            long q = off + scaleBytes;
            for (int p = 0; p < 8; p++, q += pairBytes) {
                ShortVector w = nibblePairs(s, q);
                lo = lo.add(w.and((short) 0x0F).mul(pair(pairs[k + p])));
                hi = hi.add(w.lanewise(VectorOperators.LSHR, 4).mul(pair(pairs[k + 8 + p])));
            }
            FloatVector dw = FloatVector.fromMemorySegment(F, s, off, LE);
            acc = blockSum(lo.add(hi), a.zeroPoints[d + b]).fma(dw.mul(a.dx[d + b]), acc);
        }
        store(u, acc, out, outOff);
    }

    /**
     * Tokens {@code t0..t3} of {@code a} against unit {@code u}, each weight column decoded once for all four,
     * results to {@code out[ok..]} (real rows only). For batches too small to pay for {@link #widen}; repeat a
     * token to pad (its results are written twice, identically).
     */
    void gemv4(int u, Activations a, int t0, int t1, int t2, int t3, float[] out, int o0, int o1, int o2, int o3) {
        // One method per weight type, as for gemv.
        if (type == GgmlType.Q8_0) gemv4Q8(u, a, t0, t1, t2, t3, out, o0, o1, o2, o3);
        else gemv4Q4(u, a, t0, t1, t2, t3, out, o0, o1, o2, o3);
    }

    private void gemv4Q8(
            int u, Activations a, int t0, int t1, int t2, int t3, float[] out, int o0, int o1, int o2, int o3) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        MemorySegment s = data;
        long off = u * unitBytes, scaleBytes = 4L * UNIT_ROWS;
        int step = UNIT_ROWS;
        int d0 = t0 * blocks, d1 = t1 * blocks, d2 = t2 * blocks, d3 = t3 * blocks;
        float[] qx = a.qx;
        int x0 = t0 * cols, x1 = t1 * cols, x2 = t2 * cols, x3 = t3 * cols;
        for (int b = 0; b < blocks; b++, off += blockBytes) {
            FloatVector p0 = FloatVector.zero(F), p1 = p0, p2 = p0, p3 = p0;
            int c0 = 32 * b;
            long q = off + scaleBytes;
            for (int c = c0; c < c0 + 32; c++, q += step) {
                FloatVector w = i8(s, q);
                p0 = w.fma(FloatVector.broadcast(F, qx[x0 + c]), p0);
                p1 = w.fma(FloatVector.broadcast(F, qx[x1 + c]), p1);
                p2 = w.fma(FloatVector.broadcast(F, qx[x2 + c]), p2);
                p3 = w.fma(FloatVector.broadcast(F, qx[x3 + c]), p3);
            }
            FloatVector dw = FloatVector.fromMemorySegment(F, s, off, LE);
            acc0 = p0.fma(dw.mul(a.dx[d0 + b]), acc0);
            acc1 = p1.fma(dw.mul(a.dx[d1 + b]), acc1);
            acc2 = p2.fma(dw.mul(a.dx[d2 + b]), acc2);
            acc3 = p3.fma(dw.mul(a.dx[d3 + b]), acc3);
        }
        store(u, acc0, out, o0);
        store(u, acc1, out, o1);
        store(u, acc2, out, o2);
        store(u, acc3, out, o3);
    }

    private void gemv4Q4(
            int u, Activations a, int t0, int t1, int t2, int t3, float[] out, int o0, int o1, int o2, int o3) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        MemorySegment s = data;
        long off = u * unitBytes, scaleBytes = 4L * UNIT_ROWS, pairBytes = 2L * UNIT_ROWS;
        int d0 = t0 * blocks, d1 = t1 * blocks, d2 = t2 * blocks, d3 = t3 * blocks;
        int[] pairs = a.pairs;
        int half = cols / 2;
        for (int b = 0, k = 0; b < blocks; b++, off += blockBytes, k += 16) {
            int k0 = t0 * half + k, k1 = t1 * half + k, k2 = t2 * half + k, k3 = t3 * half + k;
            // One int16 sum per token over all 32 columns: 16 products per lane, still exact.
            ShortVector p0 = ShortVector.zero(S), p1 = p0, p2 = p0, p3 = p0;
            long q = off + scaleBytes;
            for (int p = 0; p < 8; p++, q += pairBytes) {
                ShortVector w = nibblePairs(s, q);
                ShortVector lo = w.and((short) 0x0F), hi = w.lanewise(VectorOperators.LSHR, 4);
                p0 = p0.add(lo.mul(pair(pairs[k0 + p]))).add(hi.mul(pair(pairs[k0 + 8 + p])));
                p1 = p1.add(lo.mul(pair(pairs[k1 + p]))).add(hi.mul(pair(pairs[k1 + 8 + p])));
                p2 = p2.add(lo.mul(pair(pairs[k2 + p]))).add(hi.mul(pair(pairs[k2 + 8 + p])));
                p3 = p3.add(lo.mul(pair(pairs[k3 + p]))).add(hi.mul(pair(pairs[k3 + 8 + p])));
            }
            FloatVector dw = FloatVector.fromMemorySegment(F, s, off, LE);
            // blockSum written out, not called four times: past C2's node budget for inlining (NodeCountInliningCutoff)
            // the calls stay calls, every vector is boxed and this kernel runs ~8x slower.
            IntVector v0 = p0.reinterpretAsInts(),
                    v1 = p1.reinterpretAsInts(),
                    v2 = p2.reinterpretAsInts(),
                    v3 = p3.reinterpretAsInts();
            v0 = v0.lanewise(VectorOperators.ASHR, 16)
                    .add(v0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            v1 = v1.lanewise(VectorOperators.ASHR, 16)
                    .add(v1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            v2 = v2.lanewise(VectorOperators.ASHR, 16)
                    .add(v2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            v3 = v3.lanewise(VectorOperators.ASHR, 16)
                    .add(v3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
            acc0 = ((FloatVector) v0.sub(a.zeroPoints[d0 + b]).convert(VectorOperators.I2F, 0))
                    .fma(dw.mul(a.dx[d0 + b]), acc0);
            acc1 = ((FloatVector) v1.sub(a.zeroPoints[d1 + b]).convert(VectorOperators.I2F, 0))
                    .fma(dw.mul(a.dx[d1 + b]), acc1);
            acc2 = ((FloatVector) v2.sub(a.zeroPoints[d2 + b]).convert(VectorOperators.I2F, 0))
                    .fma(dw.mul(a.dx[d2 + b]), acc2);
            acc3 = ((FloatVector) v3.sub(a.zeroPoints[d3 + b]).convert(VectorOperators.I2F, 0))
                    .fma(dw.mul(a.dx[d3 + b]), acc3);
        }
        store(u, acc0, out, o0);
        store(u, acc1, out, o1);
        store(u, acc2, out, o2);
        store(u, acc3, out, o3);
    }

    /**
     * Every token of {@code a} against unit {@code u}: {@code out[t * rows + UNIT_ROWS*u + r]}. Groups of four
     * tokens through {@link #gemv4} (a short group repeats its last token), a lone last token through {@link #gemv}.
     */
    void gemvTokens(int u, Activations a, float[] out) {
        int r0 = u * UNIT_ROWS, T = a.tokens;
        int t = 0;
        for (; t + 1 < T; t += 4) {
            int t1 = Math.min(t + 1, T - 1), t2 = Math.min(t + 2, T - 1), t3 = Math.min(t + 3, T - 1);
            gemv4(u, a, t, t1, t2, t3, out, t * rows + r0, t1 * rows + r0, t2 * rows + r0, t3 * rows + r0);
        }
        if (t < T) gemv(u, a, t, out, t * rows + r0);
    }

    private void store(int u, FloatVector acc, float[] out, int outOff) {
        int valid = Math.min(UNIT_ROWS, rows - u * UNIT_ROWS);
        if (valid == UNIT_ROWS) acc.intoArray(out, outOff);
        else for (int r = 0; r < valid; r++) out[outOff + r] = acc.lane(r);
    }

    /** Floats of {@link #widen}'s panel for matrices up to {@code maxCols} wide: values, then block scales. */
    static int panelFloats(int maxCols) {
        return maxCols * UNIT_ROWS + maxCols / 32 * UNIT_ROWS;
    }

    /**
     * Decodes unit {@code u} into {@code panel}: value of row r, column c at {@code panel[c*UNIT_ROWS + r]}
     * (integer-valued floats), scale of block b, row r at {@code panel[cols*UNIT_ROWS + b*UNIT_ROWS + r]}. Done
     * once per unit per many-token matmul, then reused by every token tile.
     */
    void widen(int u, float[] panel) {
        MemorySegment s = data;
        long off = u * unitBytes, scaleBytes = 4L * UNIT_ROWS;
        int scales = cols * UNIT_ROWS, step = UNIT_ROWS;
        for (int b = 0; b < blocks; b++, off += blockBytes) {
            FloatVector.fromMemorySegment(F, s, off, LE).intoArray(panel, scales + step * b);
            int p = 32 * step * b;
            long q = off + scaleBytes;
            if (type == GgmlType.Q8_0) {
                for (int i = 0; i < 32; i++, q += step, p += step) i8(s, q).intoArray(panel, p);
            } else {
                for (int j = 0; j < 16; j += 2, q += 2L * step) {
                    // Lane r: row r's bytes j (low half) and j+1 (high half); each byte two columns, 16 apart.
                    IntVector v = nibblePairs(s, q).reinterpretAsInts();
                    nibble(v, 0).intoArray(panel, p + step * j);
                    nibble(v, 4).intoArray(panel, p + step * (j + 16));
                    nibble(v, 16).intoArray(panel, p + step * (j + 1));
                    nibble(v, 20).intoArray(panel, p + step * (j + 17));
                }
            }
        }
    }

    /** The 4-bit value at bit {@code shift} of every lane, minus Q4_0's zero point 8, as floats. */
    private static FloatVector nibble(IntVector v, int shift) {
        return (FloatVector)
                v.lanewise(VectorOperators.LSHR, shift).and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
    }

    /** Floats of {@link #interleave}'s token panel for up to {@code maxCols} columns: values, then block scales. */
    static int tokenPanelFloats(int maxCols) {
        return TILE_TOKENS * (maxCols + maxCols / 32);
    }

    /**
     * Interleaves the int8 activations of {@link #TILE_TOKENS} tokens of {@code a} for {@link #gemm}: {@code xt[c*8 + i]} is
     * token i's value at column c, {@code xt[cols*8 + b*8 + i]} its scale of block b. Token i is
     * {@code first + min(i, count-1)}: a short tile repeats its last token (its results are not used).
     */
    static void interleave(Activations a, int first, int count, float[] xt, int xtOff) {
        float[] qx = a.qx, dx = a.dx;
        int cols = a.cols, blocks = a.blocks, scales = xtOff + cols * TILE_TOKENS;
        for (int i = 0; i < TILE_TOKENS; i++) {
            int t = first + Math.min(i, count - 1);
            for (int c = 0, src = t * cols; c < cols; c++) xt[xtOff + c * TILE_TOKENS + i] = qx[src + c];
            for (int b = 0, src = t * blocks; b < blocks; b++) xt[scales + b * TILE_TOKENS + i] = dx[src + b];
        }
    }

    /**
     * Register tile of the many-token matmul: the widened unit in {@code panel} against the 8 interleaved tokens
     * in {@code xt} from {@code xtOff}. Writes {@code acc[UNIT_ROWS*i + r]} for token i, row r. Per (row, token) the operations are
     * those of {@link #gemv}: an exact block sum, then {@code acc = fma(P_b, dw_b * dx_b, acc)} block by block.
     */
    static void gemm(float[] panel, int cols, float[] xt, int xtOff, float[] acc) {
        final int R = UNIT_ROWS, T = TILE_TOKENS;
        Arrays.fill(acc, 0, R * T, 0f);
        int scales = cols * R, xScales = xtOff + cols * T;
        for (int b = 0, c0 = 0; c0 < cols; b++, c0 += 32) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            for (int p = c0 * R, x = xtOff + c0 * T, end = p + 32 * R; p < end; p += R, x += T) {
                FloatVector w = FloatVector.fromArray(F, panel, p);
                a0 = w.fma(FloatVector.broadcast(F, xt[x]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[x + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[x + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[x + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[x + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[x + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[x + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[x + 7]), a7);
            }
            FloatVector dw = FloatVector.fromArray(F, panel, scales + R * b);
            int d = xScales + T * b;
            fold(acc, 0, a0, dw, xt[d]);
            fold(acc, R, a1, dw, xt[d + 1]);
            fold(acc, 2 * R, a2, dw, xt[d + 2]);
            fold(acc, 3 * R, a3, dw, xt[d + 3]);
            fold(acc, 4 * R, a4, dw, xt[d + 4]);
            fold(acc, 5 * R, a5, dw, xt[d + 5]);
            fold(acc, 6 * R, a6, dw, xt[d + 6]);
            fold(acc, 7 * R, a7, dw, xt[d + 7]);
        }
    }

    private static void fold(float[] acc, int o, FloatVector p, FloatVector dw, float dx) {
        p.fma(dw.mul(dx), FloatVector.fromArray(F, acc, o)).intoArray(acc, o);
    }
}
