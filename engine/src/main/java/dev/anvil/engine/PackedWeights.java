package dev.anvil.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A Q8_0 or Q4_0 weight matrix repacked at load time, off the Java heap, so that vector lanes are output
 * rows: the kernels broadcast one activation value and multiply it with the same column of 8 rows at once,
 * and no dot product ever needs a horizontal sum.
 *
 * <p>Layout: rows are taken in units of {@value #UNIT_ROWS} (the last unit padded with zero rows). A unit
 * stores its blocks of 32 columns one after the other; a block is the 16 rows' scales as float32, then the
 * quantized values column by column:
 * <pre>
 * Q8_0 (576 bytes):  float dw[16] ; int8 q[32][16]        q[i][r] = value of row r, column i
 * Q4_0 (320 bytes):  float dw[16] ; u8  qs[16][16]        qs[j][r] = row r's ggml byte j: low nibble column j, high nibble j+16
 * </pre>
 *
 * <p>Arithmetic (the reason for this class): the activations are already int8 blocks ({@code x = dx*qx},
 * {@link QuantKernels#quantizeQ8_0}). Keeping {@code qx} as integer-valued floats, the block sum
 * {@code P_b = sum_i qw[i]*qx[i]} over 32 values is computed EXACTLY in float (|qw*qx| <= 128*127 and the
 * sum stays below 2^24), whatever the order, the number of partial accumulators and the lane layout. A row's
 * result is defined as
 * <pre>
 * acc = 0 ; for each block b in order: acc = fma(P_b, dw_b * dx_b, acc)
 * </pre>
 * ({@link #referenceDot} spells it out), which every kernel here computes bit for bit, so the one-token kernel
 * ({@link #gemv}) and the many-token register tile ({@link #gemm}) agree exactly and a sequence's logits do not
 * depend on its batch. It is also llama.cpp's formula (integer block dot times {@code d_w*d_x}), up to the
 * order in which the block terms are added.
 */
final class PackedWeights {

    static final int UNIT_ROWS = 16;
    /** Tokens per register tile of {@link #gemm}: 6 tokens x 2 row vectors = 12 accumulators + 3 operands. */
    static final int TILE_TOKENS = 6;

    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    final GgmlType type;
    final int rows, cols, blocks, units;
    final long blockBytes, unitBytes;
    final MemorySegment data;

    private PackedWeights(GgmlType type, int rows, int cols, MemorySegment data) {
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.blocks = cols / 32;
        this.units = (rows + UNIT_ROWS - 1) / UNIT_ROWS;
        this.blockBytes = type == GgmlType.Q8_0 ? 64 + 32 * UNIT_ROWS : 64 + 16 * UNIT_ROWS;
        this.unitBytes = blockBytes * blocks;
        this.data = data;
    }

    /**
     * Whether matrices of this type are repacked: Q8_0 and Q4_0, on hardware with 256-bit float vectors (the
     * layout puts 8 rows in a vector; narrower vectors would run the 256-bit operations emulated).
     */
    static boolean supports(GgmlType type) {
        return (type == GgmlType.Q8_0 || type == GgmlType.Q4_0) && FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
    }

    /** Bytes the packed copy of a {@code rows x cols} matrix takes. */
    static long packedBytes(GgmlType type, int rows, int cols) {
        return new PackedWeights(type, rows, cols, MemorySegment.NULL).unitBytes * ((rows + UNIT_ROWS - 1) / UNIT_ROWS);
    }

    /** Allocates the packed copy in {@code arena}; fill it with {@link #packUnits} (units are independent). */
    static PackedWeights allocate(WeightMatrix w, Arena arena) {
        if (!supports(w.type())) throw new IllegalArgumentException("cannot repack weight type " + w.type());
        long bytes = packedBytes(w.type(), w.rows(), w.cols());
        return new PackedWeights(w.type(), w.rows(), w.cols(), arena.allocate(bytes, 64));
    }

    /** Packs units {@code [u0, u1)} from the original matrix {@code w} (rows past its end become zeros). */
    void packUnits(WeightMatrix w, int u0, int u1) {
        MemorySegment src = w.data();
        long rowBytes = w.type().bytesFor(cols);
        int srcBlock = w.type().typeSize, qBytes = type == GgmlType.Q8_0 ? 32 : 16;
        byte[] in = new byte[UNIT_ROWS * qBytes], out = new byte[UNIT_ROWS * qBytes];
        for (int u = u0; u < u1; u++) {
            for (int b = 0; b < blocks; b++) {
                long dst = u * unitBytes + b * blockBytes;
                java.util.Arrays.fill(in, (byte) 0);
                for (int r = 0; r < UNIT_ROWS; r++) {
                    int row = u * UNIT_ROWS + r;
                    float d = 0f;
                    if (row < rows) {
                        long o = row * rowBytes + (long) b * srcBlock;
                        d = QuantKernels.f16(src, o);
                        MemorySegment.copy(src, ValueLayout.JAVA_BYTE, o + 2, in, r * qBytes, qBytes);
                    } else if (type == GgmlType.Q4_0) {
                        java.util.Arrays.fill(in, r * qBytes, (r + 1) * qBytes, (byte) 0x88); // nibbles 8: value 0
                    }
                    data.set(F32, dst + 4L * r, d);
                }
                for (int r = 0; r < UNIT_ROWS; r++) {
                    for (int i = 0; i < qBytes; i++) out[i * UNIT_ROWS + r] = in[r * qBytes + i];
                }
                MemorySegment.copy(out, 0, data, ValueLayout.JAVA_BYTE, dst + 64, out.length);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Reference and kernels

    /** The defining formula, scalar, for tests: row {@code row} with token activations {@code qx[xOff..]}, scales {@code dx[dOff..]}. */
    static float referenceDot(WeightMatrix w, int row, float[] qx, int xOff, float[] dx, int dOff) {
        MemorySegment s = w.data();
        long rowOff = row * w.type().bytesFor(w.cols());
        float acc = 0f;
        for (int b = 0; b < w.cols() / 32; b++) {
            long o = rowOff + (long) b * w.type().typeSize;
            float dw = QuantKernels.f16(s, o);
            long p = 0; // exact: a long holds the integer sum
            for (int i = 0; i < 32; i++) {
                int q = w.type() == GgmlType.Q8_0 ? s.get(ValueLayout.JAVA_BYTE, o + 2 + i)
                        : (i < 16 ? QuantKernels.u8(s, o + 2 + i) & 15 : QuantKernels.u8(s, o + 2 + i - 16) >> 4) - 8;
                p += q * (long) qx[xOff + 32 * b + i];
            }
            acc = Math.fma((float) p, dw * dx[dOff + b], acc);
        }
        return acc;
    }

    /** Eight lanes of int8 (rows) at {@code off}, as floats. */
    private static FloatVector i8(MemorySegment s, long off) {
        return (FloatVector) ByteVector.fromMemorySegment(B8, s, off, LE).convertShape(VectorOperators.B2F, F8, 0);
    }

    /** Low nibbles minus 8 of eight bytes (rows) at {@code off}, as floats. */
    private static FloatVector lo4(ByteVector v) {
        return (FloatVector) v.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2F, F8, 0);
    }

    private static FloatVector hi4(ByteVector v) {
        return (FloatVector) v.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F8, 0);
    }

    /**
     * One token against unit {@code u}: {@code out[outOff + r] = row (16u + r) . x} for the unit's real rows.
     * {@code qx[xOff..]} are the token's int8 activation values (as floats), {@code dx[dOff..]} its block scales.
     */
    void gemv(int u, float[] qx, int xOff, float[] dx, int dOff, float[] out, int outOff) {
        FloatVector acc0 = FloatVector.zero(F8), acc1 = acc0;
        MemorySegment s = data;
        long off = u * unitBytes;
        if (type == GgmlType.Q8_0) {
            for (int b = 0; b < blocks; b++, off += blockBytes) {
                // 8 independent partial sums (2 row halves x 4 column phases): exact, so any split is allowed.
                FloatVector p0 = FloatVector.zero(F8), p1 = p0, p2 = p0, p3 = p0, p4 = p0, p5 = p0, p6 = p0, p7 = p0;
                int x = xOff + 32 * b;
                long q = off + 64;
                for (int i = 0; i < 32; i += 4, q += 64) {
                    FloatVector xa = FloatVector.broadcast(F8, qx[x + i]), xb = FloatVector.broadcast(F8, qx[x + i + 1]);
                    FloatVector xc = FloatVector.broadcast(F8, qx[x + i + 2]), xd = FloatVector.broadcast(F8, qx[x + i + 3]);
                    p0 = i8(s, q).fma(xa, p0);
                    p1 = i8(s, q + 8).fma(xa, p1);
                    p2 = i8(s, q + 16).fma(xb, p2);
                    p3 = i8(s, q + 24).fma(xb, p3);
                    p4 = i8(s, q + 32).fma(xc, p4);
                    p5 = i8(s, q + 40).fma(xc, p5);
                    p6 = i8(s, q + 48).fma(xd, p6);
                    p7 = i8(s, q + 56).fma(xd, p7);
                }
                FloatVector d = FloatVector.broadcast(F8, dx[dOff + b]);
                acc0 = p0.add(p2).add(p4.add(p6)).fma(FloatVector.fromMemorySegment(F8, s, off, LE).mul(d), acc0);
                acc1 = p1.add(p3).add(p5.add(p7)).fma(FloatVector.fromMemorySegment(F8, s, off + 32, LE).mul(d), acc1);
            }
        } else {
            for (int b = 0; b < blocks; b++, off += blockBytes) {
                FloatVector p0 = FloatVector.zero(F8), p1 = p0, p2 = p0, p3 = p0, p4 = p0, p5 = p0, p6 = p0, p7 = p0;
                int x = xOff + 32 * b;
                long q = off + 64;
                for (int j = 0; j < 16; j += 2, q += 32) {
                    FloatVector xa = FloatVector.broadcast(F8, qx[x + j]), xb = FloatVector.broadcast(F8, qx[x + j + 16]);
                    FloatVector xc = FloatVector.broadcast(F8, qx[x + j + 1]), xd = FloatVector.broadcast(F8, qx[x + j + 17]);
                    ByteVector v0 = ByteVector.fromMemorySegment(B8, s, q, LE), v1 = ByteVector.fromMemorySegment(B8, s, q + 8, LE);
                    ByteVector v2 = ByteVector.fromMemorySegment(B8, s, q + 16, LE), v3 = ByteVector.fromMemorySegment(B8, s, q + 24, LE);
                    p0 = lo4(v0).fma(xa, p0);
                    p1 = lo4(v1).fma(xa, p1);
                    p2 = hi4(v0).fma(xb, p2);
                    p3 = hi4(v1).fma(xb, p3);
                    p4 = lo4(v2).fma(xc, p4);
                    p5 = lo4(v3).fma(xc, p5);
                    p6 = hi4(v2).fma(xd, p6);
                    p7 = hi4(v3).fma(xd, p7);
                }
                FloatVector d = FloatVector.broadcast(F8, dx[dOff + b]);
                acc0 = p0.add(p2).add(p4.add(p6)).fma(FloatVector.fromMemorySegment(F8, s, off, LE).mul(d), acc0);
                acc1 = p1.add(p3).add(p5.add(p7)).fma(FloatVector.fromMemorySegment(F8, s, off + 32, LE).mul(d), acc1);
            }
        }
        int valid = Math.min(UNIT_ROWS, rows - u * UNIT_ROWS);
        if (valid == UNIT_ROWS) {
            acc0.intoArray(out, outOff);
            acc1.intoArray(out, outOff + 8);
        } else {
            for (int r = 0; r < valid; r++) out[outOff + r] = r < 8 ? acc0.lane(r) : acc1.lane(r - 8);
        }
    }

    /** Floats per worker for {@link #widen}'s panel: {@code cols * 16} values plus {@code blocks * 16} scales. */
    static int panelFloats(int maxCols) { return maxCols * UNIT_ROWS + maxCols / 32 * UNIT_ROWS; }

    /**
     * Decodes unit {@code u} into {@code panel}: value of row r, column c at {@code panel[c*16 + r]} (integer
     * valued floats), scale of block b, row r at {@code panel[cols*16 + b*16 + r]}. Done once per unit per
     * many-token matmul, then reused by every token tile.
     */
    void widen(int u, float[] panel) {
        MemorySegment s = data;
        long off = u * unitBytes;
        int scales = cols * UNIT_ROWS;
        for (int b = 0; b < blocks; b++, off += blockBytes) {
            FloatVector.fromMemorySegment(F8, s, off, LE).intoArray(panel, scales + 16 * b);
            FloatVector.fromMemorySegment(F8, s, off + 32, LE).intoArray(panel, scales + 16 * b + 8);
            int p = 32 * UNIT_ROWS * b;
            if (type == GgmlType.Q8_0) {
                for (long q = off + 64, end = q + 512; q < end; q += 16, p += 16) {
                    i8(s, q).intoArray(panel, p);
                    i8(s, q + 8).intoArray(panel, p + 8);
                }
            } else {
                for (int j = 0; j < 16; j++) {
                    long q = off + 64 + 16L * j;
                    ByteVector v0 = ByteVector.fromMemorySegment(B8, s, q, LE), v1 = ByteVector.fromMemorySegment(B8, s, q + 8, LE);
                    lo4(v0).intoArray(panel, p + 16 * j);
                    lo4(v1).intoArray(panel, p + 16 * j + 8);
                    hi4(v0).intoArray(panel, p + 16 * (j + 16));
                    hi4(v1).intoArray(panel, p + 16 * (j + 16) + 8);
                }
            }
        }
    }

    /**
     * Register tile of the many-token matmul: the widened unit in {@code panel} against 6 tokens whose int8
     * activations start at {@code qx[x0..x5]} and block scales at {@code dx[d0..d5]} (repeat an offset to pad a
     * short tile). Writes {@code acc[16*t + r]} for token t, row r. Per (row, token) the operations are those of
     * {@link #gemv}: an exact block sum, then {@code acc = fma(P_b, dw_b * dx_b, acc)} block by block.
     */
    static void gemm(float[] panel, int cols, float[] qx, int x0, int x1, int x2, int x3, int x4, int x5,
                     float[] dx, int d0, int d1, int d2, int d3, int d4, int d5, float[] acc) {
        java.util.Arrays.fill(acc, 0, 16 * TILE_TOKENS, 0f);
        int scales = cols * UNIT_ROWS;
        for (int b = 0, c0 = 0; c0 < cols; b++, c0 += 32) {
            FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
            FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
            for (int c = c0, p = c0 * UNIT_ROWS; c < c0 + 32; c++, p += UNIT_ROWS) {
                FloatVector w0 = FloatVector.fromArray(F8, panel, p), w1 = FloatVector.fromArray(F8, panel, p + 8);
                FloatVector x = FloatVector.broadcast(F8, qx[x0 + c]);
                a0 = w0.fma(x, a0);
                b0 = w1.fma(x, b0);
                x = FloatVector.broadcast(F8, qx[x1 + c]);
                a1 = w0.fma(x, a1);
                b1 = w1.fma(x, b1);
                x = FloatVector.broadcast(F8, qx[x2 + c]);
                a2 = w0.fma(x, a2);
                b2 = w1.fma(x, b2);
                x = FloatVector.broadcast(F8, qx[x3 + c]);
                a3 = w0.fma(x, a3);
                b3 = w1.fma(x, b3);
                x = FloatVector.broadcast(F8, qx[x4 + c]);
                a4 = w0.fma(x, a4);
                b4 = w1.fma(x, b4);
                x = FloatVector.broadcast(F8, qx[x5 + c]);
                a5 = w0.fma(x, a5);
                b5 = w1.fma(x, b5);
            }
            FloatVector dw0 = FloatVector.fromArray(F8, panel, scales + 16 * b), dw1 = FloatVector.fromArray(F8, panel, scales + 16 * b + 8);
            fold(acc, 0, a0, b0, dw0, dw1, dx[d0 + b]);
            fold(acc, 16, a1, b1, dw0, dw1, dx[d1 + b]);
            fold(acc, 32, a2, b2, dw0, dw1, dx[d2 + b]);
            fold(acc, 48, a3, b3, dw0, dw1, dx[d3 + b]);
            fold(acc, 64, a4, b4, dw0, dw1, dx[d4 + b]);
            fold(acc, 80, a5, b5, dw0, dw1, dx[d5 + b]);
        }
    }

    private static void fold(float[] acc, int o, FloatVector p0, FloatVector p1, FloatVector dw0, FloatVector dw1, float dx) {
        FloatVector d = FloatVector.broadcast(F8, dx);
        p0.fma(dw0.mul(d), FloatVector.fromArray(F8, acc, o)).intoArray(acc, o);
        p1.fma(dw1.mul(d), FloatVector.fromArray(F8, acc, o + 8)).intoArray(acc, o + 8);
    }
}
