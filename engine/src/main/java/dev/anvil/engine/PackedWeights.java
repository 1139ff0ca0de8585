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
 * A Q8_0, Q4_0, Q5_0 or Q4_K weight matrix repacked at load time, off the Java heap, so that vector lanes are output
 * rows: the kernels broadcast one activation value and multiply it with the same column of {@link #UNIT_ROWS} rows
 * at once, and no dot product ever needs a horizontal sum.
 *
 * <p>Layout: rows are taken in units of {@link #UNIT_ROWS} (the float vector length of this machine: 8 with
 * AVX2, 16 with AVX-512; the last unit padded with zero rows). A unit stores its groups of columns (32, or 256 for
 * Q4_K) one after the other; a group holds the unit's scales, then the quantized values column by column:
 * <pre>
 * Q8_0:  float dw[R] ; int8 q[16][R][2]             q[p][r][k] = value of row r, column 2p+k
 * Q4_0:  float dw[R] ; u8 qs[8][R][2]               qs[p][r][k] = row r's ggml byte 2p+k: low nibble column 2p+k,
 *                                                   high nibble column 2p+k+16
 * Q5_0:  float dw[R] ; int qh[R] ; u8 qs[8][R][2]   qs as Q4_0; the 5th bits of pair p (columns 2p, 2p+16, 2p+1,
 *                                                   2p+17) at bits a, a+4, a+16, a+20 of qh, a = p or p+4: one
 *                                                   shift puts them at bits 4 and 8 of the pair's int16 lanes
 * Q4_K:  float d[R] ; float dmin[R] ; u8 sc[8][R] ; u8 m[8][R] ; u8 qs[4][16][R][2]
 *                                                   chunk c, pair p: row r's ggml bytes 32c+2p+k: low nibble
 *                                                   column 64c+2p+k (sub-block 2c), high 64c+32+2p+k (2c+1)
 * </pre>
 *
 * <p>Arithmetic (the reason for this class): the activations are int8 blocks ({@code x = dx*qx}: per 32 values
 * for Q8_0/Q4_0/Q5_0 weights, {@link QuantKernels#quantizeQ8_0}; per 256 for Q4_K, ggml's Q8_K), the values
 * llama.cpp multiplies. Keeping {@code qx} as integer-valued floats, the sum {@code P_b = sum_i qw[i]*qx[i]} over
 * a block of 32 values is EXACT in float (|qw*qx| <= 128*127, the sum stays below 2^24) whatever the order, the
 * number of partial sums and the vector width. A row's result is defined as
 * <pre>
 * acc = 0 ; for each block b of 32 in order: acc = fma(P_b, dw_b * dx_b, acc)
 * Q4_K:  dw_b = d_s * sc_b (qw the unsigned nibble), and per super-block s of 256:
 *        M_s = sum_j m_j * sum(qx of sub-block j) (exact) ; mins = fma(M_s, dmin_s * dx_s, mins) ; result acc - mins
 * </pre>
 * ({@link #referenceDot} spells it out) and every kernel here computes exactly that, lane by lane. So the
 * one-token kernel ({@link #gemv}) and the many-token tile ({@link #gemm}) agree bit for bit, on any vector
 * width, and a sequence's logits do not depend on its batch. It is llama.cpp's formula too (integer block dot
 * times {@code d_w*d_x}; for Q4_K its int32 sum of scaled sub-block dots), up to the rounding of the block terms
 * and the order in which they are added.
 *
 * <p>The few-token kernels compute {@code P_b} in int16 lanes instead, two columns per lane pair: a load of
 * {@code 2R} bytes widens to the values (or nibbles) of columns {@code (2p, 2p+1)} of every row side by side, and
 * one broadcast int carries the token's two matching int8 values ({@link Activations#pairs}). Q4_0 and Q4_K values
 * are unsigned nibbles (0..15), so a lane's 16 products stay within {@code 16*15*127 = 30480 < 2^15}; Q5_0's
 * (0..31) are summed in two halves of {@code 8*31*127}; Q8_0's (-128..127) two at a time ({@code 2*128*127}) before
 * each pair of lanes is added into int32. A zero point comes off once per block as {@code 8 * sum(qx)} (Q5_0:
 * {@code 16 * sum(qx)}). The same exact integer in about half the instructions of widening each value to a float:
 * the Vector API has no multiply-add of int8 or int16 pairs (x86's vpmaddubsw/vpmaddwd), which llama.cpp uses.
 */
final class PackedWeights {

    private static final VectorSpecies<Float> F =
            FloatVector.SPECIES_PREFERRED.length() >= 16 ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    /** Int8 vector with one lane per row of a unit (64 or 128 bits). */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(F.length() * 8));
    /** Int8 vector with two lanes per row (nibble byte pairs), and the int16 and int32 vectors of the float width. */
    private static final VectorSpecies<Byte> B2 = VectorSpecies.of(byte.class, VectorShape.forBitSize(F.length() * 16));

    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, F.vectorShape());
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    /** Rows per unit: one float vector. */
    static final int UNIT_ROWS = F.length();
    /** Tokens per register tile of {@link #gemm}: 8 block sums + 1 weight vector + 1 broadcast fit 16 registers. */
    static final int TILE_TOKENS = 8;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);

    final GgmlType type;
    /** Blocks of 32 columns; groups of columns stored together (a block, or a Q4_K super-block of 8 blocks). */
    final int rows, cols, blocks, groups, units;
    /** Columns per group: 32, or 256 for Q4_K. */
    private final int groupCols;

    final long groupBytes, unitBytes;
    final MemorySegment data;

    private PackedWeights(GgmlType type, int rows, int cols, MemorySegment data) {
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.blocks = cols / 32;
        this.groupCols = type == GgmlType.Q4_K ? 256 : 32;
        this.groups = cols / groupCols;
        this.units = (rows + UNIT_ROWS - 1) / UNIT_ROWS;
        this.groupBytes = (long) UNIT_ROWS
                * switch (type) {
                    case Q8_0 -> 4 + 32;
                    case Q4_0 -> 4 + 16;
                    case Q5_0 -> 4 + 4 + 16;
                    case Q4_K -> 4 + 4 + 8 + 8 + 128;
                    default -> throw new IllegalArgumentException("cannot repack weight type " + type);
                };
        this.unitBytes = groupBytes * groups;
        this.data = data;
    }

    /** Whether matrices of this type are repacked: Q8_0, Q4_0, Q5_0, Q4_K, on hardware with 256-bit float vectors or wider. */
    static boolean supports(GgmlType type) {
        return (type == GgmlType.Q8_0 || type == GgmlType.Q4_0 || type == GgmlType.Q5_0 || type == GgmlType.Q4_K)
                && FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 256;
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
        int srcGroup = w.type().typeSize, R = UNIT_ROWS;
        byte[] g = new byte[srcGroup];
        for (int u = u0; u < u1; u++) {
            for (int b = 0; b < groups; b++) {
                long dst = u * unitBytes + b * groupBytes;
                for (int r = 0; r < R; r++) {
                    int row = u * R + r;
                    if (row < rows)
                        MemorySegment.copy(
                                src, ValueLayout.JAVA_BYTE, row * rowBytes + (long) b * srcGroup, g, 0, srcGroup);
                    else padding(g);
                    switch (type) {
                        case Q8_0 -> {
                            data.set(F32, dst + 4L * r, f16(g, 0));
                            for (int i = 0; i < 32; i++)
                                data.set(ValueLayout.JAVA_BYTE, dst + 4L * R + pairByte(i, r), g[2 + i]);
                        }
                        case Q4_0 -> {
                            data.set(F32, dst + 4L * r, f16(g, 0));
                            for (int i = 0; i < 16; i++)
                                data.set(ValueLayout.JAVA_BYTE, dst + 4L * R + pairByte(i, r), g[2 + i]);
                        }
                        case Q5_0 -> {
                            data.set(F32, dst + 4L * r, f16(g, 0));
                            int qh = (g[2] & 0xFF) | (g[3] & 0xFF) << 8 | (g[4] & 0xFF) << 16 | (g[5] & 0xFF) << 24,
                                    packed = 0;
                            for (int p = 0; p < 8; p++) {
                                int at = p < 4 ? p : p + 4; // see fifthBits
                                packed |= (qh >>> (2 * p) & 1) << at
                                        | (qh >>> (2 * p + 16) & 1) << (at + 4)
                                        | (qh >>> (2 * p + 1) & 1) << (at + 16)
                                        | (qh >>> (2 * p + 17) & 1) << (at + 20);
                            }
                            data.set(I32, dst + 4L * R + 4L * r, packed);
                            for (int i = 0; i < 16; i++)
                                data.set(ValueLayout.JAVA_BYTE, dst + 8L * R + pairByte(i, r), g[6 + i]);
                        }
                        case Q4_K -> {
                            data.set(F32, dst + 4L * r, f16(g, 0));
                            data.set(F32, dst + 4L * R + 4L * r, f16(g, 2));
                            MemorySegment scales = MemorySegment.ofArray(g);
                            for (int j = 0; j < 8; j++) {
                                data.set(ValueLayout.JAVA_BYTE, dst + 8L * R + (long) j * R + r, (byte)
                                        QuantKernels.kScale(scales, 4, j));
                                data.set(ValueLayout.JAVA_BYTE, dst + 16L * R + (long) j * R + r, (byte)
                                        QuantKernels.kMin(scales, 4, j));
                            }
                            for (int c = 0; c < 4; c++) {
                                for (int i = 0; i < 32; i++) {
                                    long at = dst + 24L * R + (long) c * 16 * 2 * R + pairByte(i, r);
                                    data.set(ValueLayout.JAVA_BYTE, at, g[16 + 32 * c + i]);
                                }
                            }
                        }
                        default -> throw new AssertionError(type);
                    }
                }
            }
        }
    }

    /** Offset of ggml byte {@code i} of row {@code r} among a unit's nibble byte pairs: pair i/2, lane 2r + i%2. */
    private static long pairByte(int i, int r) {
        return (long) (i / 2) * 2 * UNIT_ROWS + 2L * r + i % 2;
    }

    /** A padding row's group: value 0 and scale 0 (Q4_0 and Q5_0 store q+8 and q+16, so their nibbles are 8 and 0 with 5th bit 1). */
    private void padding(byte[] g) {
        Arrays.fill(g, (byte) 0);
        if (type == GgmlType.Q4_0) Arrays.fill(g, 2, 18, (byte) 0x88);
        if (type == GgmlType.Q5_0) Arrays.fill(g, 2, 6, (byte) 0xFF);
    }

    private static float f16(byte[] g, int at) {
        return Float.float16ToFloat((short) ((g[at] & 0xFF) | (g[at + 1] & 0xFF) << 8));
    }

    // ------------------------------------------------------------------------------------------------
    // Reference and kernels

    /**
     * The defining formula, scalar, for tests: row {@code row} of {@code w} against token {@code t} of {@code a}.
     */
    static float referenceDot(WeightMatrix w, int row, Activations a, int t) {
        MemorySegment s = w.data();
        long rowOff = row * w.type().bytesFor(w.cols());
        float[] qx = a.qx;
        int x0 = t * a.cols;
        float acc = 0f, mins = 0f;
        for (int b = 0; b < w.cols() / 32; b++) {
            float dw, dx = a.dx[t * a.scaleBlocks + b / a.blocksPerScale];
            long p = 0; // exact: a long holds the integer sum
            if (w.type() == GgmlType.Q4_K) {
                long o = rowOff + (long) (b / 8) * 144;
                int j = b % 8, c = j / 2;
                dw = QuantKernels.f16(s, o) * QuantKernels.kScale(s, o + 4, j);
                for (int i = 0; i < 32; i++) {
                    int q = QuantKernels.u8(s, o + 16 + 32 * c + i);
                    p += (j % 2 == 0 ? q & 15 : q >> 4) * (long) qx[x0 + 32 * b + i];
                }
                if (j == 7) {
                    long m = 0;
                    for (int k = 0; k < 8; k++) {
                        for (int i = 0; i < 32; i++)
                            m += QuantKernels.kMin(s, o + 4, k) * (long) qx[x0 + 256 * (b / 8) + 32 * k + i];
                    }
                    mins = Math.fma((float) m, QuantKernels.f16(s, o + 2) * dx, mins);
                }
            } else {
                long o = rowOff + (long) b * w.type().typeSize;
                dw = QuantKernels.f16(s, o);
                int qh = w.type() == GgmlType.Q5_0 ? s.get(I32, o + 2) : 0;
                for (int i = 0; i < 32; i++) {
                    int q = switch (w.type()) {
                        case Q8_0 -> s.get(ValueLayout.JAVA_BYTE, o + 2 + i);
                        case Q4_0 ->
                            (i < 16 ? QuantKernels.u8(s, o + 2 + i) & 15 : QuantKernels.u8(s, o + 2 + i - 16) >> 4) - 8;
                        case Q5_0 ->
                            ((i < 16 ? QuantKernels.u8(s, o + 6 + i) & 15 : QuantKernels.u8(s, o + 6 + i - 16) >> 4)
                                            | (qh >>> i & 1) << 4)
                                    - 16;
                        default -> throw new IllegalArgumentException(w.type().toString());
                    };
                    p += q * (long) qx[x0 + 32 * b + i];
                }
            }
            acc = Math.fma((float) p, dw * dx, acc);
        }
        return acc - mins;
    }

    /**
     * The activations of one matmul, rounded the way llama.cpp rounds them before these weight types (int8 blocks
     * with a scale: {@link QuantKernels#quantizeQ8_0} per 32 values, or ggml's Q8_K per 256 for Q4_K), in the forms
     * the kernels read. Token t's values start at {@code qx[t*cols]}, its scales at {@code dx[t*scaleBlocks]}.
     */
    static final class Activations {
        final int tokens, cols, blocks;
        /** Scales per token, and blocks of 32 per scale (1, or 8 for Q8_K). */
        final int scaleBlocks, blocksPerScale;
        /** The int8 values, as integer-valued floats. */
        final float[] qx;
        /** The block scales. */
        final float[] dx;
        /**
         * Columns {@code (2k, 2k+1)} as two int16 in one int (low half first: the order of int16 lanes); only
         * with {@code int16Forms}, for the 4- and 5-bit types' few-token kernels.
         */
        final int[] pairs;
        /** {@code sum(qx)} per block of 32 (zero points, Q4_K's mins); with {@code int16Forms} or for Q8_K. */
        final int[] sums;

        /**
         * Rounds {@code tokens} rows of {@code x} for weights of type {@code weightType}; {@code int16Forms} adds
         * {@link #pairs} and {@link #sums}.
         */
        Activations(float[] x, int tokens, int cols, GgmlType weightType, boolean int16Forms) {
            this.tokens = tokens;
            this.cols = cols;
            this.blocks = cols / 32;
            boolean k = weightType == GgmlType.Q4_K;
            this.blocksPerScale = k ? 8 : 1;
            this.scaleBlocks = blocks / blocksPerScale;
            this.qx = new float[tokens * cols];
            this.dx = new float[tokens * scaleBlocks];
            for (int t = 0; t < tokens; t++) {
                if (k) quantizeQ8_K(x, t * cols, qx, dx, t * scaleBlocks, cols);
                else QuantKernels.quantizeQ8_0(x, t * cols, qx, t * cols, dx, t * blocks, cols);
            }
            this.pairs = int16Forms ? new int[tokens * cols / 2] : null;
            this.sums = int16Forms || k ? new int[tokens * blocks] : null;
            if (sums != null) {
                for (int b = 0; b < sums.length; b++) {
                    int sum = 0;
                    for (int i = 32 * b; i < 32 * b + 32; i++) sum += (int) qx[i];
                    sums[b] = sum;
                }
            }
            if (!int16Forms) return;
            for (int p = 0; p < pairs.length; p++) pairs[p] = ((int) qx[2 * p] & 0xFFFF) | ((int) qx[2 * p + 1] << 16);
        }

        /**
         * ggml's quantize_row_q8_K: per 256 values, {@code iscale = -127/max} (max the value of largest magnitude,
         * with its sign), {@code q = min(127, round-half-even(x*iscale))}, {@code d = 1/iscale}; all zero: q = d = 0.
         * The same values as {@link QuantKernels#roundActivations}'s Q8_K.
         */
        private static void quantizeQ8_K(float[] x, int xOff, float[] q, float[] d, int dOff, int n) {
            for (int b = 0; b < n; b += 256) {
                float amax = 0, max = 0;
                for (int j = xOff + b; j < xOff + b + 256; j++) {
                    float ax = Math.abs(x[j]);
                    if (ax > amax) {
                        amax = ax;
                        max = x[j];
                    }
                }
                if (amax == 0f) {
                    Arrays.fill(q, xOff + b, xOff + b + 256, 0f);
                    d[dOff + b / 256] = 0f;
                    continue;
                }
                float iscale = -127f / max;
                d[dOff + b / 256] = 1f / iscale;
                for (int j = xOff + b; j < xOff + b + 256; j++)
                    q[j] = (float) Math.min(127.0, Math.rint(iscale * x[j]));
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

    /** A Q8_0 column pair of every row at {@code off}, sign-extended: lane 2r is row r's column 2p, lane 2r+1 its 2p+1. */
    private static ShortVector bytePairs(MemorySegment s, long off) {
        return (ShortVector) ByteVector.fromMemorySegment(B2, s, off, LE).convertShape(VectorOperators.B2S, S, 0);
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

    /** Lanes 2r and 2r+1 of an int16 block sum added, sign-extended: row r's sum, as an int lane. */
    private static IntVector pairSum(ShortVector lanes) {
        IntVector v = lanes.reinterpretAsInts();
        return v.lanewise(VectorOperators.ASHR, 16)
                .add(v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
    }

    /** Q5_0: the 5th bits of pair p, from the unit's shuffled {@code qh} ({@code hb}): bits 0 and 8 of each int16 lane. */
    private static ShortVector fifthBits(IntVector hb, int p) {
        // Pair p's bits sit at p + {0, 4, 16, 20} (p < 4) or p + {4, 8, 20, 24}: one shift puts them at bits 4 and 8
        // of both int16 lanes, where the low column's bit is or-ed in place and the high column's goes with its nibble.
        return (p < 4 ? hb.lanewise(VectorOperators.LSHL, 4 - p) : hb.lanewise(VectorOperators.LSHR, p))
                .reinterpretAsShorts();
    }

    /** Q5_0: the low columns' 5-bit values of a pair ({@code w} its nibble bytes, {@code h} its {@link #fifthBits}). */
    private static ShortVector lowFifth(ShortVector w, ShortVector h) {
        return w.and((short) 0x0F).or(h.and((short) 0x10));
    }

    /** Q5_0: the high columns' 5-bit values of a pair. */
    private static ShortVector highFifth(ShortVector w, ShortVector h) {
        return w.or(h.and((short) 0x100)).lanewise(VectorOperators.LSHR, 4);
    }

    /**
     * Token {@code t} of {@code a} against unit {@code u}: {@code out[outOff + r] = row (UNIT_ROWS*u + r) . x} for
     * the unit's real rows.
     */
    void gemv(int u, Activations a, int t, float[] out, int outOff) {
        // Each kernel stores its own result: a vector returned from a call C2 does not inline would be boxed.
        switch (type) {
            case Q8_0 -> gemvQ8(u, a, t, out, outOff);
            case Q4_0 -> gemvQ4(u, a, t, out, outOff);
            case Q5_0 -> gemvQ5(u, a, t, out, outOff);
            case Q4_K -> gemvQ4K(u, a, t, out, outOff);
            default -> throw new AssertionError(type);
        }
    }

    private void gemvQ8(int u, Activations a, int t, float[] out, int outOff) {
        FloatVector acc = FloatVector.zero(F);
        MemorySegment s = data;
        int[] pairs = a.pairs;
        long off = u * unitBytes, scaleBytes = 4L * UNIT_ROWS, pairBytes = 2L * UNIT_ROWS;
        int d = t * blocks;
        for (int b = 0, k = t * cols / 2; b < blocks; b++, off += groupBytes, k += 16) {
            // Two products per int16 lane (<= 2*128*127), then into int32: exact, see the class comment.
            IntVector sum = IntVector.zero(I);
            long q = off + scaleBytes;
            for (int p = 0; p < 16; p += 2, q += 2 * pairBytes) {
                ShortVector two = bytePairs(s, q)
                        .mul(pair(pairs[k + p]))
                        .add(bytePairs(s, q + pairBytes).mul(pair(pairs[k + p + 1])));
                sum = sum.add(pairSum(two));
            }
            FloatVector dw = FloatVector.fromMemorySegment(F, s, off, LE);
            acc = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(dw.mul(a.dx[d + b]), acc);
        }
        store(u, acc, out, outOff);
    }

    private void gemvQ4(int u, Activations a, int t, float[] out, int outOff) {
        FloatVector acc = FloatVector.zero(F);
        MemorySegment s = data;
        int[] pairs = a.pairs;
        long off = u * unitBytes, scaleBytes = 4L * UNIT_ROWS, pairBytes = 2L * UNIT_ROWS;
        int d = t * blocks;
        for (int b = 0, k = t * cols / 2; b < blocks; b++, off += groupBytes, k += 16) {
            // Low nibbles (columns 0..15) and high nibbles (16..31) in two int16 sums: exact, see the class comment.
            ShortVector lo = ShortVector.zero(S), hi = lo;
            long q = off + scaleBytes;
            for (int p = 0; p < 8; p++, q += pairBytes) {
                ShortVector w = nibblePairs(s, q);
                lo = lo.add(w.and((short) 0x0F).mul(pair(pairs[k + p])));
                hi = hi.add(w.lanewise(VectorOperators.LSHR, 4).mul(pair(pairs[k + 8 + p])));
            }
            FloatVector dw = FloatVector.fromMemorySegment(F, s, off, LE);
            acc = blockSum(lo.add(hi), a.sums[d + b] << 3).fma(dw.mul(a.dx[d + b]), acc);
        }
        store(u, acc, out, outOff);
    }

    private void gemvQ5(int u, Activations a, int t, float[] out, int outOff) {
        FloatVector acc = FloatVector.zero(F);
        MemorySegment s = data;
        int[] pairs = a.pairs;
        long off = u * unitBytes, pairBytes = 2L * UNIT_ROWS;
        int d = t * blocks;
        for (int b = 0, k = t * cols / 2; b < blocks; b++, off += groupBytes, k += 16) {
            // 5-bit values: each int16 lane holds 8 products (<= 8*31*127), low and high columns kept apart.
            ShortVector lo = ShortVector.zero(S), hi = lo;
            IntVector hb = IntVector.fromMemorySegment(I, s, off + 4L * UNIT_ROWS, LE);
            long q = off + 8L * UNIT_ROWS;
            for (int p = 0; p < 8; p++, q += pairBytes) {
                ShortVector w = nibblePairs(s, q), h = fifthBits(hb, p);
                lo = lo.add(lowFifth(w, h).mul(pair(pairs[k + p])));
                hi = hi.add(highFifth(w, h).mul(pair(pairs[k + 8 + p])));
            }
            FloatVector dw = FloatVector.fromMemorySegment(F, s, off, LE);
            IntVector sum = pairSum(lo).add(pairSum(hi)).sub(a.sums[d + b] << 4);
            acc = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(dw.mul(a.dx[d + b]), acc);
        }
        store(u, acc, out, outOff);
    }

    private void gemvQ4K(int u, Activations a, int t, float[] out, int outOff) {
        final int R = UNIT_ROWS;
        FloatVector acc = FloatVector.zero(F), mins = acc;
        MemorySegment s = data;
        int[] pairs = a.pairs, sums = a.sums;
        long off = u * unitBytes, pairBytes = 2L * R;
        for (int g = 0, k = t * cols / 2, j0 = t * blocks; g < groups; g++, off += groupBytes, k += 128, j0 += 8) {
            FloatVector d = FloatVector.fromMemorySegment(F, s, off, LE);
            float dx = a.dx[t * groups + g];
            FloatVector m = FloatVector.zero(F);
            long q = off + 24L * R;
            for (int c = 0; c < 4; c++) {
                // Sub-blocks 2c (low nibbles) and 2c+1 (high): 16 products per int16 lane, exact.
                ShortVector lo = ShortVector.zero(S), hi = lo;
                int kc = k + 32 * c;
                for (int p = 0; p < 16; p++, q += pairBytes) {
                    ShortVector w = nibblePairs(s, q);
                    lo = lo.add(w.and((short) 0x0F).mul(pair(pairs[kc + p])));
                    hi = hi.add(w.lanewise(VectorOperators.LSHR, 4).mul(pair(pairs[kc + 16 + p])));
                }
                long sc = off + 8L * R + 2L * c * R, mn = off + 16L * R + 2L * c * R;
                acc = ((FloatVector) pairSum(lo).convert(VectorOperators.I2F, 0))
                        .fma(d.mul(i8(s, sc)).mul(dx), acc);
                acc = ((FloatVector) pairSum(hi).convert(VectorOperators.I2F, 0))
                        .fma(d.mul(i8(s, sc + R)).mul(dx), acc);
                // M_g = sum_j m_j * sum(qx_j): integers below 2^24, exact in float (as in subtractMins).
                m = i8(s, mn).fma(FloatVector.broadcast(F, sums[j0 + 2 * c]), m);
                m = i8(s, mn + R).fma(FloatVector.broadcast(F, sums[j0 + 2 * c + 1]), m);
            }
            FloatVector dmin = FloatVector.fromMemorySegment(F, s, off + 4L * R, LE);
            mins = m.fma(dmin.mul(dx), mins);
        }
        store(u, acc.sub(mins), out, outOff);
    }

    /**
     * Tokens {@code t0..t3} of {@code a} against unit {@code u}, each weight column decoded once for all four,
     * results to {@code out[ok..]} (real rows only). For batches too small to pay for {@link #widen}; repeat a
     * token to pad (its results are written twice, identically).
     */
    void gemv4(int u, Activations a, int t0, int t1, int t2, int t3, float[] out, int o0, int o1, int o2, int o3) {
        // One method per weight type, as for gemv.
        switch (type) {
            case Q8_0 -> gemv4Q8(u, a, t0, t1, t2, t3, out, o0, o1, o2, o3);
            case Q4_0 -> gemv4Q4(u, a, t0, t1, t2, t3, out, o0, o1, o2, o3);
            default -> {
                gemv(u, a, t0, out, o0);
                gemv(u, a, t1, out, o1);
                gemv(u, a, t2, out, o2);
                gemv(u, a, t3, out, o3);
            }
        }
    }

    private void gemv4Q8(
            int u, Activations a, int t0, int t1, int t2, int t3, float[] out, int o0, int o1, int o2, int o3) {
        // Float lanes here (each column pair widened once for four tokens): the int16 form of gemvQ8 for four
        // tokens measured 2x slower than four one-token calls. The block sums are exact either way.
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        MemorySegment s = data;
        long off = u * unitBytes, scaleBytes = 4L * UNIT_ROWS, pairBytes = 2L * UNIT_ROWS;
        int d0 = t0 * blocks, d1 = t1 * blocks, d2 = t2 * blocks, d3 = t3 * blocks;
        float[] qx = a.qx;
        int x0 = t0 * cols, x1 = t1 * cols, x2 = t2 * cols, x3 = t3 * cols;
        for (int b = 0; b < blocks; b++, off += groupBytes) {
            FloatVector p0 = FloatVector.zero(F), p1 = p0, p2 = p0, p3 = p0;
            int c0 = 32 * b;
            long q = off + scaleBytes;
            for (int c = c0; c < c0 + 32; c += 2, q += pairBytes) {
                IntVector v = bytePairs(s, q).reinterpretAsInts();
                FloatVector w = (FloatVector) v.lanewise(VectorOperators.LSHL, 16)
                        .lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0);
                FloatVector w1 =
                        (FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0);
                p0 = w1.fma(FloatVector.broadcast(F, qx[x0 + c + 1]), w.fma(FloatVector.broadcast(F, qx[x0 + c]), p0));
                p1 = w1.fma(FloatVector.broadcast(F, qx[x1 + c + 1]), w.fma(FloatVector.broadcast(F, qx[x1 + c]), p1));
                p2 = w1.fma(FloatVector.broadcast(F, qx[x2 + c + 1]), w.fma(FloatVector.broadcast(F, qx[x2 + c]), p2));
                p3 = w1.fma(FloatVector.broadcast(F, qx[x3 + c + 1]), w.fma(FloatVector.broadcast(F, qx[x3 + c]), p3));
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
        for (int b = 0, k = 0; b < blocks; b++, off += groupBytes, k += 16) {
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
            acc0 = ((FloatVector) v0.sub(a.sums[d0 + b] << 3).convert(VectorOperators.I2F, 0))
                    .fma(dw.mul(a.dx[d0 + b]), acc0);
            acc1 = ((FloatVector) v1.sub(a.sums[d1 + b] << 3).convert(VectorOperators.I2F, 0))
                    .fma(dw.mul(a.dx[d1 + b]), acc1);
            acc2 = ((FloatVector) v2.sub(a.sums[d2 + b] << 3).convert(VectorOperators.I2F, 0))
                    .fma(dw.mul(a.dx[d2 + b]), acc2);
            acc3 = ((FloatVector) v3.sub(a.sums[d3 + b] << 3).convert(VectorOperators.I2F, 0))
                    .fma(dw.mul(a.dx[d3 + b]), acc3);
        }
        store(u, acc0, out, o0);
        store(u, acc1, out, o1);
        store(u, acc2, out, o2);
        store(u, acc3, out, o3);
    }

    /**
     * Every token of {@code a} against unit {@code u}: {@code out[t * rows + UNIT_ROWS*u + r]}. Groups of four
     * tokens while three or more remain (a short group repeats its last token), the last one or two through
     * {@link #gemv}: a group costs 2.3-2.9x one token on every type (measured, AVX2), so two tokens are cheaper
     * apart and three together. Q8_0/Q4_0 run
     * {@link #gemv4}; Q5_0/Q4_K compute the four tokens' exact block sums in one pass over the unit into
     * {@code scratch} ({@link #blockSumShorts}), then fold each token's sums with the scales as {@link #gemv} does.
     */
    void gemvTokens(int u, Activations a, float[] out, short[] scratch) {
        int r0 = u * UNIT_ROWS, T = a.tokens;
        int t = 0;
        boolean split = type == GgmlType.Q5_0 || type == GgmlType.Q4_K;
        for (; t + 2 < T; t += 4) {
            int t1 = Math.min(t + 1, T - 1), t2 = Math.min(t + 2, T - 1), t3 = Math.min(t + 3, T - 1);
            if (!split) {
                gemv4(u, a, t, t1, t2, t3, out, t * rows + r0, t1 * rows + r0, t2 * rows + r0, t3 * rows + r0);
                continue;
            }
            int h = cols / 2, n = type == GgmlType.Q5_0 ? 4 * blocks * UNIT_ROWS : 2 * blocks * UNIT_ROWS;
            if (type == GgmlType.Q5_0) blockSums4Q5(u, a, t, t1, t2, t3, scratch);
            else blockSums4Q4K(u, a.pairs, t * h, t1 * h, t2 * h, t3 * h, scratch);
            // t3 may repeat t2: its fold is the same arithmetic on the same sums, written twice.
            int[] ts = {t, t1, t2, t3};
            for (int i = 0; i < 4; i++) {
                if (type == GgmlType.Q5_0) foldQ5(u, a, ts[i], scratch, i * n, out, ts[i] * rows + r0);
                else foldQ4K(u, a, ts[i], scratch, i * n, out, ts[i] * rows + r0);
            }
        }
        for (; t < T; t++) gemv(u, a, t, out, t * rows + r0);
    }

    /** Shorts of {@link #gemvTokens}'s scratch for matrices up to {@code maxCols} wide: four tokens' int16 sums. */
    static int blockSumShorts(int maxCols) {
        return 4 * (maxCols / 32) * 4 * UNIT_ROWS;
    }

    /**
     * Q5_0, four tokens: the int16 lanes {@link #gemvQ5} forms for block b of token {@code t_i} (low columns',
     * then high columns') at {@code sums4[i*4*blocks*R + 4*b*R]}. Each pair of columns is decoded once for the
     * four tokens; lane sums, zero point and scales are applied apart ({@link #foldQ5}) and the lanes leave
     * through plain stores, so that this method stays under C2's node budget for inlining: past it
     * (NodeCountInliningCutoff) a helper call stays a call, every vector is boxed and the kernel runs 20x slower.
     */
    private void blockSums4Q5(int u, Activations a, int t0, int t1, int t2, int t3, short[] sums4) {
        final int R = UNIT_ROWS, n = 4 * blocks * R, h = cols / 2;
        MemorySegment s = data;
        int[] pairs = a.pairs;
        long off = u * unitBytes, pairBytes = 2L * R;
        for (int b = 0, k = 0, o = 0; b < blocks; b++, off += groupBytes, k += 16, o += 4 * R) {
            int k0 = t0 * h + k, k1 = t1 * h + k, k2 = t2 * h + k, k3 = t3 * h + k;
            // As gemvQ5: 8 products per int16 lane (<= 8*31*127), low and high columns apart.
            ShortVector l0 = ShortVector.zero(S), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
            IntVector hb = IntVector.fromMemorySegment(I, s, off + 4L * R, LE);
            long q = off + 8L * R;
            for (int p = 0; p < 8; p++, q += pairBytes) {
                ShortVector w = nibblePairs(s, q), hv = fifthBits(hb, p);
                ShortVector wl = lowFifth(w, hv), wh = highFifth(w, hv);
                l0 = l0.add(wl.mul(pair(pairs[k0 + p])));
                h0 = h0.add(wh.mul(pair(pairs[k0 + 8 + p])));
                l1 = l1.add(wl.mul(pair(pairs[k1 + p])));
                h1 = h1.add(wh.mul(pair(pairs[k1 + 8 + p])));
                l2 = l2.add(wl.mul(pair(pairs[k2 + p])));
                h2 = h2.add(wh.mul(pair(pairs[k2 + 8 + p])));
                l3 = l3.add(wl.mul(pair(pairs[k3 + p])));
                h3 = h3.add(wh.mul(pair(pairs[k3 + 8 + p])));
            }
            l0.intoArray(sums4, o);
            h0.intoArray(sums4, o + 2 * R);
            l1.intoArray(sums4, n + o);
            h1.intoArray(sums4, n + o + 2 * R);
            l2.intoArray(sums4, 2 * n + o);
            h2.intoArray(sums4, 2 * n + o + 2 * R);
            l3.intoArray(sums4, 3 * n + o);
            h3.intoArray(sums4, 3 * n + o + 2 * R);
        }
    }

    /** Q5_0: token {@code t}'s int16 lanes at {@code sums4[at..]} folded exactly as {@link #gemvQ5} folds its own. */
    private void foldQ5(int u, Activations a, int t, short[] sums4, int at, float[] out, int outOff) {
        FloatVector acc = FloatVector.zero(F);
        long off = u * unitBytes;
        int R2 = 2 * UNIT_ROWS;
        for (int b = 0, d = t * blocks, o = at; b < blocks; b++, off += groupBytes, o += 2 * R2) {
            FloatVector dw = FloatVector.fromMemorySegment(F, data, off, LE);
            IntVector sum = pairSum(ShortVector.fromArray(S, sums4, o))
                    .add(pairSum(ShortVector.fromArray(S, sums4, o + R2)))
                    .sub(a.sums[d + b] << 4);
            acc = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(dw.mul(a.dx[d + b]), acc);
        }
        store(u, acc, out, outOff);
    }

    /**
     * Q4_K, four tokens ({@code k_i}: token i's first index into {@link Activations#pairs}): the int16 lanes
     * {@link #gemvQ4K} forms for sub-block j at {@code sums4[i*2*blocks*R + 2*j*R]}; lane sums, scales and mins
     * apart in {@link #foldQ4K}, for the reason given at {@link #blockSums4Q5}.
     */
    private void blockSums4Q4K(int u, int[] pairs, int k0, int k1, int k2, int k3, short[] sums4) {
        final int R = UNIT_ROWS, n = 2 * blocks * R;
        MemorySegment s = data;
        long off = u * unitBytes, pairBytes = 2L * R;
        for (int g = 0, k = 0, o = 0; g < groups; g++, off += groupBytes) {
            long q = off + 24L * R;
            for (int c = 0; c < 4; c++, k += 32, o += 4 * R) {
                // Sub-blocks 2c (low nibbles) and 2c+1 (high): 16 products per int16 lane, exact.
                ShortVector l0 = ShortVector.zero(S), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
                for (int p = 0; p < 16; p++, q += pairBytes) {
                    ShortVector w = nibblePairs(s, q);
                    ShortVector wl = w.and((short) 0x0F), wh = w.lanewise(VectorOperators.LSHR, 4);
                    l0 = l0.add(wl.mul(pair(pairs[k0 + k + p])));
                    h0 = h0.add(wh.mul(pair(pairs[k0 + k + 16 + p])));
                    l1 = l1.add(wl.mul(pair(pairs[k1 + k + p])));
                    h1 = h1.add(wh.mul(pair(pairs[k1 + k + 16 + p])));
                    l2 = l2.add(wl.mul(pair(pairs[k2 + k + p])));
                    h2 = h2.add(wh.mul(pair(pairs[k2 + k + 16 + p])));
                    l3 = l3.add(wl.mul(pair(pairs[k3 + k + p])));
                    h3 = h3.add(wh.mul(pair(pairs[k3 + k + 16 + p])));
                }
                l0.intoArray(sums4, o);
                h0.intoArray(sums4, o + 2 * R);
                l1.intoArray(sums4, n + o);
                h1.intoArray(sums4, n + o + 2 * R);
                l2.intoArray(sums4, 2 * n + o);
                h2.intoArray(sums4, 2 * n + o + 2 * R);
                l3.intoArray(sums4, 3 * n + o);
                h3.intoArray(sums4, 3 * n + o + 2 * R);
            }
        }
    }

    /** Q4_K: token {@code t}'s int16 lanes at {@code sums4[at..]} folded with scales and mins exactly as {@link #gemvQ4K}. */
    private void foldQ4K(int u, Activations a, int t, short[] sums4, int at, float[] out, int outOff) {
        final int R = UNIT_ROWS;
        FloatVector acc = FloatVector.zero(F), mins = acc;
        MemorySegment s = data;
        int[] sums = a.sums;
        long off = u * unitBytes;
        for (int g = 0, j0 = t * blocks, o = at; g < groups; g++, off += groupBytes, j0 += 8) {
            FloatVector d = FloatVector.fromMemorySegment(F, s, off, LE);
            float dx = a.dx[t * groups + g];
            FloatVector m = FloatVector.zero(F);
            for (int c = 0; c < 4; c++, o += 4 * R) {
                long sc = off + 8L * R + 2L * c * R, mn = off + 16L * R + 2L * c * R;
                acc = ((FloatVector) pairSum(ShortVector.fromArray(S, sums4, o)).convert(VectorOperators.I2F, 0))
                        .fma(d.mul(i8(s, sc)).mul(dx), acc);
                acc = ((FloatVector) pairSum(ShortVector.fromArray(S, sums4, o + 2 * R))
                                .convert(VectorOperators.I2F, 0))
                        .fma(d.mul(i8(s, sc + R)).mul(dx), acc);
                m = i8(s, mn).fma(FloatVector.broadcast(F, sums[j0 + 2 * c]), m);
                m = i8(s, mn + R).fma(FloatVector.broadcast(F, sums[j0 + 2 * c + 1]), m);
            }
            FloatVector dmin = FloatVector.fromMemorySegment(F, s, off + 4L * R, LE);
            mins = m.fma(dmin.mul(dx), mins);
        }
        store(u, acc.sub(mins), out, outOff);
    }

    private void store(int u, FloatVector acc, float[] out, int outOff) {
        int valid = Math.min(UNIT_ROWS, rows - u * UNIT_ROWS);
        if (valid == UNIT_ROWS) acc.intoArray(out, outOff);
        else for (int r = 0; r < valid; r++) out[outOff + r] = acc.lane(r);
    }

    /**
     * Floats of {@link #widen}'s panel for matrices up to {@code maxCols} wide: values, block scales and (Q4_K)
     * block mins and super-block dmins.
     */
    static int panelFloats(int maxCols) {
        return maxCols * UNIT_ROWS + 3 * (maxCols / 32) * UNIT_ROWS;
    }

    /**
     * Decodes unit {@code u} into {@code panel}: value of row r, column c at {@code panel[c*UNIT_ROWS + r]}
     * (integer-valued floats), scale of block b, row r at {@code panel[cols*UNIT_ROWS + b*UNIT_ROWS + r]} (Q4_K:
     * {@code d*sc}, then its mins {@code m} of block b and {@code dmin} of super-block g at
     * {@code (cols + blocks + b)*UNIT_ROWS} and {@code (cols + 2*blocks + g)*UNIT_ROWS}). Done once per unit per
     * many-token matmul, then reused by every token tile.
     */
    void widen(int u, float[] panel) {
        final int R = UNIT_ROWS;
        MemorySegment s = data;
        long off = u * unitBytes, pairBytes = 2L * R;
        int scales = cols * R;
        for (int g = 0; g < groups; g++, off += groupBytes) {
            switch (type) {
                case Q8_0 -> {
                    FloatVector.fromMemorySegment(F, s, off, LE).intoArray(panel, scales + R * g);
                    long q = off + 4L * R;
                    for (int i = 0, p = 32 * R * g; i < 32; i += 2, q += pairBytes, p += 2 * R) {
                        IntVector v = bytePairs(s, q).reinterpretAsInts();
                        ((FloatVector) v.lanewise(VectorOperators.LSHL, 16)
                                        .lanewise(VectorOperators.ASHR, 16)
                                        .convert(VectorOperators.I2F, 0))
                                .intoArray(panel, p);
                        ((FloatVector) v.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0))
                                .intoArray(panel, p + R);
                    }
                }
                case Q4_0 -> {
                    FloatVector.fromMemorySegment(F, s, off, LE).intoArray(panel, scales + R * g);
                    long q = off + 4L * R;
                    for (int j = 0, p = 32 * R * g; j < 16; j += 2, q += pairBytes) {
                        // Lane r: row r's bytes j (low half) and j+1 (high half); each byte two columns, 16 apart.
                        IntVector v = nibblePairs(s, q).reinterpretAsInts();
                        nibble(v, 0, 8).intoArray(panel, p + R * j);
                        nibble(v, 4, 8).intoArray(panel, p + R * (j + 16));
                        nibble(v, 16, 8).intoArray(panel, p + R * (j + 1));
                        nibble(v, 20, 8).intoArray(panel, p + R * (j + 17));
                    }
                }
                case Q5_0 -> {
                    FloatVector.fromMemorySegment(F, s, off, LE).intoArray(panel, scales + R * g);
                    IntVector hb = IntVector.fromMemorySegment(I, s, off + 4L * R, LE);
                    long q = off + 8L * R;
                    for (int j = 0, p = 32 * R * g; j < 16; j += 2, q += pairBytes) {
                        IntVector v = nibblePairs(s, q).reinterpretAsInts();
                        IntVector h = fifthBits(hb, j / 2).reinterpretAsInts();
                        fifth(v, 0, h, 0).intoArray(panel, p + R * j);
                        fifth(v, 4, h, 4).intoArray(panel, p + R * (j + 16));
                        fifth(v, 16, h, 16).intoArray(panel, p + R * (j + 1));
                        fifth(v, 20, h, 20).intoArray(panel, p + R * (j + 17));
                    }
                }
                case Q4_K -> {
                    FloatVector d = FloatVector.fromMemorySegment(F, s, off, LE);
                    FloatVector.fromMemorySegment(F, s, off + 4L * R, LE)
                            .intoArray(panel, scales + 2 * blocks * R + R * g);
                    for (int j = 0; j < 8; j++) {
                        d.mul(i8(s, off + 8L * R + (long) j * R)).intoArray(panel, scales + R * (8 * g + j));
                        i8(s, off + 16L * R + (long) j * R).intoArray(panel, scales + blocks * R + R * (8 * g + j));
                    }
                    long q = off + 24L * R;
                    for (int c = 0; c < 4; c++) {
                        for (int j = 0, p = 256 * R * g + 64 * R * c; j < 32; j += 2, q += pairBytes) {
                            IntVector v = nibblePairs(s, q).reinterpretAsInts();
                            nibble(v, 0, 0).intoArray(panel, p + R * j);
                            nibble(v, 4, 0).intoArray(panel, p + R * (j + 32));
                            nibble(v, 16, 0).intoArray(panel, p + R * (j + 1));
                            nibble(v, 20, 0).intoArray(panel, p + R * (j + 33));
                        }
                    }
                }
                default -> throw new AssertionError(type);
            }
        }
    }

    /** The 4-bit value at bit {@code shift} of every lane, minus the zero point {@code zero}, as floats. */
    private static FloatVector nibble(IntVector v, int shift, int zero) {
        return (FloatVector)
                v.lanewise(VectorOperators.LSHR, shift).and(0x0F).sub(zero).convert(VectorOperators.I2F, 0);
    }

    /** Q5_0: the nibble at bit {@code shift} with its 5th bit (bit {@code hShift + 4} of {@code h}), minus 16, as floats. */
    private static FloatVector fifth(IntVector v, int shift, IntVector h, int hShift) {
        IntVector q = v.lanewise(VectorOperators.LSHR, shift)
                .and(0x0F)
                .or(h.lanewise(VectorOperators.LSHR, hShift).and(0x10));
        return (FloatVector) q.sub(16).convert(VectorOperators.I2F, 0);
    }

    /**
     * Q4_K's mins of token {@code t} against the unit widened in {@code panel}, taken off its main sums in
     * {@code acc[accOff..]}: {@code acc - mins}, with {@code mins} as {@link #gemvQ4K} computes it.
     */
    void subtractMins(float[] panel, Activations a, int t, float[] acc, int accOff) {
        final int R = UNIT_ROWS;
        int mOff = (cols + blocks) * R, dminOff = (cols + 2 * blocks) * R;
        int[] sums = a.sums;
        FloatVector mins = FloatVector.zero(F);
        for (int g = 0, j0 = t * blocks; g < groups; g++, j0 += 8) {
            // M_g is an integer below 2^24: exact in float, whatever the order.
            FloatVector m = FloatVector.zero(F);
            for (int j = 0; j < 8; j++)
                m = FloatVector.fromArray(F, panel, mOff + R * (8 * g + j))
                        .fma(FloatVector.broadcast(F, sums[j0 + j]), m);
            float dx = a.dx[t * groups + g];
            mins = m.fma(FloatVector.fromArray(F, panel, dminOff + R * g).mul(dx), mins);
        }
        FloatVector.fromArray(F, acc, accOff).sub(mins).intoArray(acc, accOff);
    }

    /** Floats of {@link #interleave}'s token panel for up to {@code maxCols} columns: values, then block scales. */
    static int tokenPanelFloats(int maxCols) {
        return TILE_TOKENS * (maxCols + maxCols / 32);
    }

    /**
     * Interleaves the int8 activations of {@link #TILE_TOKENS} tokens of {@code a} for {@link #gemm}: {@code xt[c*8 + i]} is
     * token i's value at column c, {@code xt[cols*8 + b*8 + i]} its scale of block b (a Q8_K scale repeated for its 8 blocks). Token i is
     * {@code first + min(i, count-1)}: a short tile repeats its last token (its results are not used).
     */
    static void interleave(Activations a, int first, int count, float[] xt, int xtOff) {
        float[] qx = a.qx, dx = a.dx;
        int cols = a.cols, blocks = a.blocks, per = a.blocksPerScale, scales = xtOff + cols * TILE_TOKENS;
        for (int i = 0; i < TILE_TOKENS; i++) {
            int t = first + Math.min(i, count - 1);
            for (int c = 0, src = t * cols; c < cols; c++) xt[xtOff + c * TILE_TOKENS + i] = qx[src + c];
            for (int b = 0, src = t * a.scaleBlocks; b < blocks; b++)
                xt[scales + b * TILE_TOKENS + i] = dx[src + b / per];
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
