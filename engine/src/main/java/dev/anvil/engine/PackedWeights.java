package dev.anvil.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
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
 * Q4_0:  float dw[R] ; u8  qs[16][R]      qs[j][r] = row r's ggml byte j: low nibble column j, high nibble j+16
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
 */
final class PackedWeights {

    private static final VectorSpecies<Float> F =
            FloatVector.SPECIES_PREFERRED.length() >= 16 ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    /** Int8 vector with one lane per row of a unit (64 or 128 bits). */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(F.length() * 8));

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
                    for (int i = 0; i < perRow; i++) out[i * UNIT_ROWS + r] = in[r * perRow + i];
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

    /** One column of a unit's int8 values (one per row) at {@code off}, as floats. */
    private static FloatVector i8(MemorySegment s, long off) {
        return (FloatVector) ByteVector.fromMemorySegment(B, s, off, LE).convertShape(VectorOperators.B2F, F, 0);
    }

    /** Low nibbles minus 8 (Q4_0 columns j < 16), as floats. */
    private static FloatVector lo4(ByteVector v) {
        return (FloatVector) v.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
    }

    /** High nibbles minus 8 (Q4_0 columns j + 16), as floats. */
    private static FloatVector hi4(ByteVector v) {
        return (FloatVector) v.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
    }

    /**
     * One token against unit {@code u}: {@code out[outOff + r] = row (UNIT_ROWS*u + r) . x} for the unit's real rows.
     * {@code qx[xOff..]} are the token's int8 activation values (as floats), {@code dx[dOff..]} its block scales.
     */
    void gemv(int u, float[] qx, int xOff, float[] dx, int dOff, float[] out, int outOff) {
        FloatVector acc = FloatVector.zero(F);
        MemorySegment s = data;
        long off = u * unitBytes, scaleBytes = 4L * UNIT_ROWS;
        int step = UNIT_ROWS;
        for (int b = 0; b < blocks; b++, off += blockBytes) {
            // Four independent partial sums (column phases): exact, so any split is allowed.
            FloatVector p0 = FloatVector.zero(F), p1 = p0, p2 = p0, p3 = p0;
            int x = xOff + 32 * b;
            long q = off + scaleBytes;
            if (type == GgmlType.Q8_0) {
                for (int i = 0; i < 32; i += 4, q += 4L * step) {
                    p0 = i8(s, q).fma(FloatVector.broadcast(F, qx[x + i]), p0);
                    p1 = i8(s, q + step).fma(FloatVector.broadcast(F, qx[x + i + 1]), p1);
                    p2 = i8(s, q + 2L * step).fma(FloatVector.broadcast(F, qx[x + i + 2]), p2);
                    p3 = i8(s, q + 3L * step).fma(FloatVector.broadcast(F, qx[x + i + 3]), p3);
                }
            } else {
                for (int j = 0; j < 16; j += 2, q += 2L * step) {
                    ByteVector v0 = ByteVector.fromMemorySegment(B, s, q, LE),
                            v1 = ByteVector.fromMemorySegment(B, s, q + step, LE);
                    p0 = lo4(v0).fma(FloatVector.broadcast(F, qx[x + j]), p0);
                    p1 = hi4(v0).fma(FloatVector.broadcast(F, qx[x + j + 16]), p1);
                    p2 = lo4(v1).fma(FloatVector.broadcast(F, qx[x + j + 1]), p2);
                    p3 = hi4(v1).fma(FloatVector.broadcast(F, qx[x + j + 17]), p3);
                }
            }
            FloatVector dw = FloatVector.fromMemorySegment(F, s, off, LE);
            acc = p0.add(p1).add(p2.add(p3)).fma(dw.mul(dx[dOff + b]), acc);
        }
        store(u, acc, out, outOff);
    }

    /**
     * Four tokens against unit {@code u}, each column converted once for all four: token k's activations at
     * {@code qx[xk..]}, scales at {@code dx[dk..]}, results to {@code out[ok..]} (real rows only). For batches too
     * small to pay for {@link #widen}; repeat a token to pad (its results are written twice, identically).
     */
    void gemv4(
            int u,
            float[] qx,
            int x0,
            int x1,
            int x2,
            int x3,
            float[] dx,
            int d0,
            int d1,
            int d2,
            int d3,
            float[] out,
            int o0,
            int o1,
            int o2,
            int o3) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        MemorySegment s = data;
        long off = u * unitBytes, scaleBytes = 4L * UNIT_ROWS;
        int step = UNIT_ROWS;
        for (int b = 0; b < blocks; b++, off += blockBytes) {
            FloatVector p0 = FloatVector.zero(F), p1 = p0, p2 = p0, p3 = p0;
            int c0 = 32 * b;
            long q = off + scaleBytes;
            if (type == GgmlType.Q8_0) {
                for (int c = c0; c < c0 + 32; c++, q += step) {
                    FloatVector w = i8(s, q);
                    p0 = w.fma(FloatVector.broadcast(F, qx[x0 + c]), p0);
                    p1 = w.fma(FloatVector.broadcast(F, qx[x1 + c]), p1);
                    p2 = w.fma(FloatVector.broadcast(F, qx[x2 + c]), p2);
                    p3 = w.fma(FloatVector.broadcast(F, qx[x3 + c]), p3);
                }
            } else {
                for (int j = c0; j < c0 + 16; j++, q += step) {
                    ByteVector v = ByteVector.fromMemorySegment(B, s, q, LE);
                    FloatVector lo = lo4(v), hi = hi4(v);
                    p0 = lo.fma(FloatVector.broadcast(F, qx[x0 + j]), p0);
                    p1 = lo.fma(FloatVector.broadcast(F, qx[x1 + j]), p1);
                    p2 = lo.fma(FloatVector.broadcast(F, qx[x2 + j]), p2);
                    p3 = lo.fma(FloatVector.broadcast(F, qx[x3 + j]), p3);
                    p0 = hi.fma(FloatVector.broadcast(F, qx[x0 + j + 16]), p0);
                    p1 = hi.fma(FloatVector.broadcast(F, qx[x1 + j + 16]), p1);
                    p2 = hi.fma(FloatVector.broadcast(F, qx[x2 + j + 16]), p2);
                    p3 = hi.fma(FloatVector.broadcast(F, qx[x3 + j + 16]), p3);
                }
            }
            FloatVector dw = FloatVector.fromMemorySegment(F, s, off, LE);
            acc0 = p0.fma(dw.mul(dx[d0 + b]), acc0);
            acc1 = p1.fma(dw.mul(dx[d1 + b]), acc1);
            acc2 = p2.fma(dw.mul(dx[d2 + b]), acc2);
            acc3 = p3.fma(dw.mul(dx[d3 + b]), acc3);
        }
        store(u, acc0, out, o0);
        store(u, acc1, out, o1);
        store(u, acc2, out, o2);
        store(u, acc3, out, o3);
    }

    /**
     * Tokens {@code 0..T-1} against unit {@code u}: {@code out[t * rows + UNIT_ROWS*u + r]}, with token t's int8
     * activations at {@code qx[t * cols..]} and scales at {@code dx[t * blocks..]}. Groups of four tokens through
     * {@link #gemv4} (a short group repeats its last token), a lone last token through {@link #gemv}.
     */
    void gemvTokens(int u, float[] qx, float[] dx, int T, float[] out) {
        int r0 = u * UNIT_ROWS;
        int t = 0;
        for (; t + 1 < T; t += 4) {
            int t1 = Math.min(t + 1, T - 1), t2 = Math.min(t + 2, T - 1), t3 = Math.min(t + 3, T - 1);
            gemv4(
                    u,
                    qx,
                    t * cols,
                    t1 * cols,
                    t2 * cols,
                    t3 * cols,
                    dx,
                    t * blocks,
                    t1 * blocks,
                    t2 * blocks,
                    t3 * blocks,
                    out,
                    t * rows + r0,
                    t1 * rows + r0,
                    t2 * rows + r0,
                    t3 * rows + r0);
        }
        if (t < T) gemv(u, qx, t * cols, dx, t * blocks, out, t * rows + r0);
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
                for (int j = 0; j < 16; j++, q += step) {
                    ByteVector v = ByteVector.fromMemorySegment(B, s, q, LE);
                    lo4(v).intoArray(panel, p + step * j);
                    hi4(v).intoArray(panel, p + step * (j + 16));
                }
            }
        }
    }

    /** Floats of {@link #interleave}'s token panel for up to {@code maxCols} columns: values, then block scales. */
    static int tokenPanelFloats(int maxCols) {
        return TILE_TOKENS * (maxCols + maxCols / 32);
    }

    /**
     * Interleaves the int8 activations of {@link #TILE_TOKENS} tokens for {@link #gemm}: {@code xt[c*8 + i]} is
     * token i's value at column c, {@code xt[cols*8 + b*8 + i]} its scale of block b. Token i is
     * {@code first + min(i, count-1)}: a short tile repeats its last token (its results are not used).
     */
    static void interleave(float[] qx, float[] dx, int cols, int first, int count, float[] xt, int xtOff) {
        int blocks = cols / 32, scales = xtOff + cols * TILE_TOKENS;
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
