package dev.anvil.engine;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dot-product and dequantization kernels for the GGML weight encodings, reading blocks straight from a
 * {@link MemorySegment}. Block layouts follow ggml's {@code block_*} structs (little-endian, fp16 scales):
 *
 * <pre>
 * Q8_0  32 values: f16 d, i8 q[32]                        x = d*q
 * Q4_0  32 values: f16 d, u8 qs[16]                       x = d*(nibble-8); low nibbles are values 0..15, high 16..31
 * Q4_1  32 values: f16 d, f16 m, u8 qs[16]                x = d*nibble + m
 * Q5_0  32 values: f16 d, u32 qh, u8 qs[16]               5th bit of value j is bit j of qh; x = d*(q-16)
 * Q5_1  32 values: f16 d, f16 m, u32 qh, u8 qs[16]        x = d*q + m
 * Q4_K 256 values: f16 d, f16 dmin, u8 scales[12], u8 qs[128]      8 sub-blocks of 32 with 6-bit scale/min
 * Q5_K 256 values: f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]
 * Q6_K 256 values: u8 ql[128], u8 qh[64], i8 scales[16], f16 d     16 sub-blocks of 16, x = d*scale*(q-32)
 * </pre>
 *
 * Arithmetic is float: every kernel widens the weights to float lanes and uses FMA. The Vector API has no
 * int8 multiply-add-pairs operation (vpmaddubsw/vpmaddwd), so an int8×int8 path would need byte→short→int
 * widening, about as many instructions as widening to float; it was not built. The activations are, however, first rounded exactly as
 * llama.cpp rounds them ({@link #roundActivations}: int8 blocks for quantized weights, fp16 for F16), so the
 * engine computes what llama.cpp computes, up to float summation order. The vector width is the platform's
 * preferred float shape (8 lanes on AVX2).
 */
public final class QuantKernels {
    private QuantKernels() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** Bytes with as many lanes as {@link #F}: widening B2F maps lane i to lane i. */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));

    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Lane permutations of {@link #sum}: lane i swaps with lane i ^ 2^k (halves, then quarters, ...). */
    private static final VectorShuffle<Float>[] SUM_SWAPS = sumSwaps();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] sumSwaps() {
        int steps = Integer.numberOfTrailingZeros(L);
        VectorShuffle<Float>[] swaps = new VectorShuffle[steps];
        for (int k = 0; k < steps; k++) {
            int stride = L >> (k + 1);
            swaps[k] = VectorShuffle.fromOp(F, i -> i ^ stride);
        }
        return swaps;
    }

    /**
     * Sum of the lanes as a fixed pairwise tree: lanes i and i ^ L/2 are added, then i and i ^ L/4, ..., so the
     * association never depends on who runs it ({@code reduceLanes(ADD)} may associate differently in compiled
     * code and in the interpreter's fallback, which would make results change when the JIT kicks in). A
     * permute-and-add per level is a handful of instructions; extracting L lanes one by one and adding them in
     * order was the single hottest spot of decode attention on 512-bit vectors.
     */
    static float sum(FloatVector v) {
        for (VectorShuffle<Float> swap : SUM_SWAPS) v = v.add(v.rearrange(swap));
        return v.lane(0);
    }

    static float f16(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(I16, off));
    }

    static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    // ------------------------------------------------------------------------------------------------
    // Float-array kernels (activations, dequantized rows, KV cache)

    /** {@code sum a[aOff+i]*b[bOff+i]} for {@code i < n}. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        int upper2 = n - 2 * L;
        for (; i <= upper2; i += 2 * L) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
            acc1 = FloatVector.fromArray(F, a, aOff + i + L).fma(FloatVector.fromArray(F, b, bOff + i + L), acc1);
        }
        for (; i <= n - L; i += L) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
        }
        float sum = sum(acc0.add(acc1));
        for (; i < n; i++) sum += a[aOff + i] * b[bOff + i];
        return sum;
    }

    /** Four dot products of rows {@code w[w0..]}, {@code w[w0+stride..]}, ... with one vector {@code x}: x is loaded once. */
    static void dot4(float[] w, int w0, int stride, float[] x, int xOff, int n, float[] out, int outOff) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
            a0 = FloatVector.fromArray(F, w, w0 + i).fma(xv, a0);
            a1 = FloatVector.fromArray(F, w, w0 + stride + i).fma(xv, a1);
            a2 = FloatVector.fromArray(F, w, w0 + 2 * stride + i).fma(xv, a2);
            a3 = FloatVector.fromArray(F, w, w0 + 3 * stride + i).fma(xv, a3);
        }
        float s0 = sum(a0), s1 = sum(a1);
        float s2 = sum(a2), s3 = sum(a3);
        for (; i < n; i++) {
            float xi = x[xOff + i];
            s0 += w[w0 + i] * xi;
            s1 += w[w0 + stride + i] * xi;
            s2 += w[w0 + 2 * stride + i] * xi;
            s3 += w[w0 + 3 * stride + i] * xi;
        }
        out[outOff] = s0;
        out[outOff + 1] = s1;
        out[outOff + 2] = s2;
        out[outOff + 3] = s3;
    }

    /**
     * The 4x2 register tile of the many-token matmul: dot products of 4 dequantized rows
     * ({@code w[w0 + r*stride ..]}) with 2 activation rows ({@code x[x0..]}, {@code x[x1..]}). Each weight
     * and activation vector is loaded once for 4 or 2 FMAs. Per (row, token) the arithmetic is exactly
     * {@link #dot1}'s, so results do not depend on how tokens were paired.
     * {@code out[outA + r]} receives row r with token a, {@code out[outB + r]} row r with token b (written
     * straight into the matmul's output: no temporary array per tile).
     */
    static void dot4x2(
            float[] w, int w0, int stride, float[] x, int x0, int x1, int n, float[] out, int outA, int outB) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector xa = FloatVector.fromArray(F, x, x0 + i), xb = FloatVector.fromArray(F, x, x1 + i);
            FloatVector w_ = FloatVector.fromArray(F, w, w0 + i);
            a0 = w_.fma(xa, a0);
            b0 = w_.fma(xb, b0);
            w_ = FloatVector.fromArray(F, w, w0 + stride + i);
            a1 = w_.fma(xa, a1);
            b1 = w_.fma(xb, b1);
            w_ = FloatVector.fromArray(F, w, w0 + 2 * stride + i);
            a2 = w_.fma(xa, a2);
            b2 = w_.fma(xb, b2);
            w_ = FloatVector.fromArray(F, w, w0 + 3 * stride + i);
            a3 = w_.fma(xa, a3);
            b3 = w_.fma(xb, b3);
        }
        float sa0 = sum(a0), sa1 = sum(a1), sa2 = sum(a2), sa3 = sum(a3);
        float sb0 = sum(b0), sb1 = sum(b1), sb2 = sum(b2), sb3 = sum(b3);
        for (; i < n; i++) { // the scalar tail of dot1, per (row, token)
            float xa = x[x0 + i], xb = x[x1 + i];
            float v0 = w[w0 + i], v1 = w[w0 + stride + i], v2 = w[w0 + 2 * stride + i], v3 = w[w0 + 3 * stride + i];
            sa0 += v0 * xa;
            sa1 += v1 * xa;
            sa2 += v2 * xa;
            sa3 += v3 * xa;
            sb0 += v0 * xb;
            sb1 += v1 * xb;
            sb2 += v2 * xb;
            sb3 += v3 * xb;
        }
        out[outA] = sa0;
        out[outA + 1] = sa1;
        out[outA + 2] = sa2;
        out[outA + 3] = sa3;
        out[outB] = sb0;
        out[outB + 1] = sb1;
        out[outB + 2] = sb2;
        out[outB + 3] = sb3;
    }

    /** {@code y[yOff+i] += a * x[xOff+i]}. */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector av = FloatVector.broadcast(F, a);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(F, x, xOff + i)
                    .fma(av, FloatVector.fromArray(F, y, yOff + i))
                    .intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    // ------------------------------------------------------------------------------------------------
    // Weight-row dot products: row of n weights at byte offset off, against x[xOff .. xOff+n).
    //
    // Batch invariance: every kernel widens L weights to floats with exactly the operations the scalar
    // dequantize() below uses (so the float weights are bit-identical), then does acc = w*x + acc on ONE
    // accumulator, walking the row in element order, and reduces at the end. dot4() over a dequantized row
    // performs the same operations in the same order, so a row's dot product is bit-identical whether the
    // matmul took the fused path (few tokens) or the dequantize-and-reuse path (many tokens). That makes a
    // sequence's logits independent of what else is in its batch, which seeded sampling relies on.

    /** Single-accumulator float dot with the arithmetic of {@link #dot4}; used for F16 rows. */
    static float dot1(float[] w, int wOff, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - L; i += L)
            acc = FloatVector.fromArray(F, w, wOff + i).fma(FloatVector.fromArray(F, x, xOff + i), acc);
        float s = sum(acc);
        for (; i < n; i++) s += w[wOff + i] * x[xOff + i];
        return s;
    }

    private static final ThreadLocal<float[]> ROW_SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    private static FloatVector b2f(ByteVector v) {
        return (FloatVector) v.convertShape(VectorOperators.B2F, F, 0);
    }

    static float dotF32(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - L; i += L)
            acc = FloatVector.fromMemorySegment(F, w, off + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOff + i), acc);
        float s = sum(acc);
        for (; i < n; i++) s += w.get(F32, off + 4L * i) * x[xOff + i];
        return s;
    }

    static float dotF16(MemorySegment w, long off, float[] x, int xOff, int n) {
        // This JDK's Vector API has no half-to-float lane conversion: decode the row with the
        // Float.float16ToFloat intrinsic (vcvtph2ps), then dot it.
        float[] row = ROW_SCRATCH.get();
        if (row.length < n) ROW_SCRATCH.set(row = new float[n]);
        dequantize(GgmlType.F16, w, off, row, 0, n);
        return dot1(row, 0, x, xOff, n);
    }

    static float dotBF16(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - L; i += L) {
            // bf16 is the top half of a float32: widen, shift into place, reinterpret.
            FloatVector wv = ShortVector.fromMemorySegment(S, w, off + 2L * i, LE)
                    .convertShape(VectorOperators.S2I, I, 0)
                    .lanewise(VectorOperators.LSHL, 16)
                    .reinterpretAsFloats();
            acc = wv.fma(FloatVector.fromArray(F, x, xOff + i), acc);
        }
        float s = sum(acc);
        for (; i < n; i++) s += Float.intBitsToFloat(w.get(I16, off + 2L * i) << 16) * x[xOff + i];
        return s;
    }

    static float dotQ8_0(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n; b += 32, off += 34) {
            FloatVector d = FloatVector.broadcast(F, f16(w, off));
            for (int j = 0; j < 32; j += L) {
                FloatVector wv =
                        b2f(ByteVector.fromMemorySegment(B, w, off + 2 + j, LE)).mul(d);
                acc = wv.fma(FloatVector.fromArray(F, x, xOff + b + j), acc);
            }
        }
        return sum(acc);
    }

    /** Q4_0/Q4_1/Q5_0/Q5_1: 32 values from 16 nibble bytes (+ optional 5th bits), value = q*d + m or (q-bias)*d. */
    private static float dotLegacy(
            MemorySegment w, long off, float[] x, int xOff, int n, int stride, boolean hasMin, boolean fiveBit) {
        FloatVector acc = FloatVector.zero(F);
        int qsOff = (hasMin ? 4 : 2) + (fiveBit ? 4 : 0);
        byte bias = (byte) (hasMin ? 0 : fiveBit ? 16 : 8);
        for (int b = 0; b < n; b += 32, off += stride) {
            float dScalar = f16(w, off);
            FloatVector d = FloatVector.broadcast(F, dScalar);
            FloatVector m = hasMin ? FloatVector.broadcast(F, f16(w, off + 2)) : null;
            int qh = fiveBit ? w.get(I32, off + (hasMin ? 4 : 2)) : 0;
            for (int half = 0; half < 2; half++) { // low nibbles are values 0..15, high nibbles 16..31
                for (int j = 0; j < 16; j += L) {
                    ByteVector q = ByteVector.fromMemorySegment(B, w, off + qsOff + j, LE);
                    q = half == 0 ? q.and((byte) 0x0F) : q.lanewise(VectorOperators.LSHR, 4);
                    if (fiveBit) q = q.or(q5HighBits(qh, 16 * half + j));
                    FloatVector wv =
                            hasMin ? b2f(q).mul(d).add(m) : b2f(q.sub(bias)).mul(d);
                    acc = wv.fma(FloatVector.fromArray(F, x, xOff + b + 16 * half + j), acc);
                }
            }
        }
        return sum(acc);
    }

    static float dotQ4_0(MemorySegment w, long off, float[] x, int xOff, int n) {
        return dotLegacy(w, off, x, xOff, n, 18, false, false);
    }

    static float dotQ4_1(MemorySegment w, long off, float[] x, int xOff, int n) {
        return dotLegacy(w, off, x, xOff, n, 20, true, false);
    }

    static float dotQ5_0(MemorySegment w, long off, float[] x, int xOff, int n) {
        return dotLegacy(w, off, x, xOff, n, 22, false, true);
    }

    static float dotQ5_1(MemorySegment w, long off, float[] x, int xOff, int n) {
        return dotLegacy(w, off, x, xOff, n, 24, true, true);
    }

    /** Lane i of the result holds bit (shift+i) of qh, moved to bit 4 (the 5th bit of a Q5 value). */
    private static ByteVector q5HighBits(int qh, int shift) {
        IntVector bits = IntVector.broadcast(I, qh)
                .lanewise(VectorOperators.LSHR, IntVector.zero(I).addIndex(1).add(shift))
                .and(1)
                .lanewise(VectorOperators.LSHL, 4);
        return (ByteVector) bits.convertShape(VectorOperators.I2B, B, 0);
    }

    /** The 6-bit scale of sub-block j of a Q4_K/Q5_K block, from its 12 packed scale bytes. */
    static int kScale(MemorySegment w, long scalesOff, int j) {
        return j < 4
                ? u8(w, scalesOff + j) & 63
                : (u8(w, scalesOff + j + 4) & 0x0F) | ((u8(w, scalesOff + j - 4) >> 6) << 4);
    }

    /** The 6-bit min of sub-block j of a Q4_K/Q5_K block. */
    static int kMin(MemorySegment w, long scalesOff, int j) {
        return j < 4
                ? u8(w, scalesOff + j + 4) & 63
                : (u8(w, scalesOff + j + 4) >> 4) | ((u8(w, scalesOff + j) >> 6) << 4);
    }

    /** Q4_K and Q5_K: 4 chunks of 64 values; low nibbles are sub-block 2c, high nibbles 2c+1; value = q*d_s - m_s. */
    private static float dotK45(MemorySegment w, long off, float[] x, int xOff, int n, boolean five) {
        FloatVector acc = FloatVector.zero(F);
        int stride = five ? 176 : 144;
        for (int b = 0; b < n; b += 256, off += stride) {
            float d = f16(w, off), dmin = f16(w, off + 2);
            long sc = off + 4, qhOff = off + 16, qs = five ? off + 48 : off + 16;
            for (int sub = 0; sub < 8; sub++) {
                int c = sub >> 1, hi = sub & 1;
                FloatVector ds = FloatVector.broadcast(F, d * kScale(w, sc, sub)),
                        ms = FloatVector.broadcast(F, dmin * kMin(w, sc, sub));
                for (int j = 0; j < 32; j += L) {
                    ByteVector q = ByteVector.fromMemorySegment(B, w, qs + 32 * c + j, LE);
                    q = hi == 0 ? q.and((byte) 0x0F) : q.lanewise(VectorOperators.LSHR, 4);
                    if (five) {
                        ByteVector h = ByteVector.fromMemorySegment(B, w, qhOff + j, LE)
                                .lanewise(VectorOperators.LSHR, sub)
                                .and((byte) 1);
                        q = q.or(h.lanewise(VectorOperators.LSHL, 4));
                    }
                    FloatVector wv = b2f(q).mul(ds).sub(ms);
                    acc = wv.fma(FloatVector.fromArray(F, x, xOff + b + 32 * sub + j), acc);
                }
            }
        }
        return sum(acc);
    }

    static float dotQ4_K(MemorySegment w, long off, float[] x, int xOff, int n) {
        return dotK45(w, off, x, xOff, n, false);
    }

    static float dotQ5_K(MemorySegment w, long off, float[] x, int xOff, int n) {
        return dotK45(w, off, x, xOff, n, true);
    }

    /**
     * Q6_K: two halves of 128 values; in a half, quarter k (values 32k..32k+31) takes its low 4 bits from
     * ql[l] (k=0: low nibble, k=2: high nibble) or ql[32+l] (k=1, k=3) and its top 2 bits from qh[l] >> 2k;
     * scale index 2k + l/16 (8 scales per half).
     */
    static float dotQ6_K(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n; b += 256, off += 210) {
            float d = f16(w, off + 208);
            for (int half = 0; half < 2; half++) {
                long ql = off + 64 * half, qh = off + 128 + 32 * half, sc = off + 192 + 8 * half;
                for (int k = 0; k < 4; k++) {
                    for (int j = 0; j < 32; j += L) {
                        FloatVector ds =
                                FloatVector.broadcast(F, d * w.get(ValueLayout.JAVA_BYTE, sc + 2 * k + j / 16));
                        ByteVector lo = ByteVector.fromMemorySegment(B, w, ql + 32 * (k & 1) + j, LE);
                        lo = k < 2 ? lo.and((byte) 0x0F) : lo.lanewise(VectorOperators.LSHR, 4);
                        ByteVector h = ByteVector.fromMemorySegment(B, w, qh + j, LE)
                                .lanewise(VectorOperators.LSHR, 2 * k)
                                .and((byte) 3);
                        ByteVector q =
                                lo.or(h.lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                        acc = b2f(q).mul(ds).fma(FloatVector.fromArray(F, x, xOff + b + 128 * half + 32 * k + j), acc);
                    }
                }
            }
        }
        return sum(acc);
    }
    // ------------------------------------------------------------------------------------------------
    // Activation rounding, as llama.cpp does it

    /** How llama.cpp rounds the activations a weight type is multiplied with (ggml's {@code vec_dot_type}). */
    enum ActivationFormat {
        F32,
        F16,
        BF16,
        Q8_0,
        Q8_K
    }

    static ActivationFormat activationFormat(GgmlType weightType) {
        return switch (weightType) {
            case F32 -> ActivationFormat.F32;
            case F16 -> ActivationFormat.F16;
            case BF16 -> ActivationFormat.BF16;
            case Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 -> ActivationFormat.Q8_0; // Q8_1 for the *_1 types: same values
            case Q4_K, Q5_K, Q6_K -> ActivationFormat.Q8_K;
            default -> throw new UnsupportedModelException("no activation format for weight type " + weightType);
        };
    }

    /**
     * Writes into {@code out} the values llama.cpp actually multiplies a weight row with: the activations
     * rounded to its {@code vec_dot_type} (F16, BF16, or int8 blocks with a scale) and decoded again. With
     * these, a float dot product equals llama.cpp's integer dot product up to float summation order, so the
     * engine agrees with the reference implementation to ~1e-5 relative instead of to the (much larger)
     * activation quantization error, and the differential tests can check far more decisions.
     */
    static void roundActivations(ActivationFormat format, float[] x, float[] out, int n) {
        switch (format) {
            case F32 -> System.arraycopy(x, 0, out, 0, n);
            case F16 -> {
                for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(Float.floatToFloat16(x[i]));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) out[i] = bf16Round(x[i]);
            }
            case Q8_0 -> {
                float[] d = new float[n / 32];
                quantizeQ8_0(x, 0, out, 0, d, 0, n);
                for (int b = 0; b < n; b += 32) {
                    float db = d[b / 32];
                    for (int j = 0; j < 32; j++) out[b + j] = db * out[b + j];
                }
            }
            case Q8_K -> {
                // ggml quantize_row_q8_K_ref: iscale = -127/max (max = the largest-magnitude value, signed), q =
                // min(127, rint(x * iscale)), d = 1/iscale.
                for (int b = 0; b < n; b += 256) {
                    float amax = 0, max = 0;
                    for (int j = 0; j < 256; j++) {
                        float ax = Math.abs(x[b + j]);
                        if (ax > amax) {
                            amax = ax;
                            max = x[b + j];
                        }
                    }
                    if (amax == 0f) {
                        java.util.Arrays.fill(out, b, b + 256, 0f);
                        continue;
                    }
                    float iscale = -127f / max, d = 1f / iscale;
                    for (int j = 0; j < 256; j++)
                        out[b + j] = d * (float) Math.min(127.0, Math.rint(iscale * x[b + j]));
                }
            }
        }
    }

    /**
     * ggml's quantize_row_q8_0 (AVX2 build) of {@code x[xOff .. xOff+n)}: per block of 32, {@code d = amax/127}
     * stored as fp16 and {@code q = round-half-even(x * 127/amax)}. Writes the integers {@code q} as floats to
     * {@code q[qOff..]} and the block scales to {@code d[dOff..]}; {@code d*q} is the value llama.cpp multiplies.
     * Vectorized with the same values: the maximum does not depend on the order it is taken in, and
     * |x * id| <= 127 (far below 2^22), where adding and subtracting 1.5 * 2^23 rounds to the nearest integer,
     * ties to even, exactly as Math.rint does.
     */
    static void quantizeQ8_0(float[] x, int xOff, float[] q, int qOff, float[] d, int dOff, int n) {
        FloatVector magic = FloatVector.broadcast(F, 0x1.8p23f);
        boolean vector = L == 8 || L == 16; // whole vectors per block of 32
        for (int b = 0; b < n; b += 32) {
            int xb = xOff + b, qb = qOff + b;
            float amax = 0;
            if (vector) {
                FloatVector m = FloatVector.fromArray(F, x, xb).abs();
                for (int j = L; j < 32; j += L)
                    m = m.max(FloatVector.fromArray(F, x, xb + j).abs());
                amax = m.reduceLanes(VectorOperators.MAX); // a maximum is exact in any order
            } else {
                for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xb + j]));
            }
            d[dOff + b / 32] = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
            float id = amax != 0f ? 127f / amax : 0f;
            if (vector && !Float.isNaN(amax)) {
                for (int j = 0; j < 32; j += L) {
                    FloatVector v = FloatVector.fromArray(F, x, xb + j).mul(id);
                    // rint keeps the sign of a value that rounds to zero (-0.3 -> -0.0): put v's sign back.
                    v.add(magic)
                            .sub(magic)
                            .abs()
                            .reinterpretAsInts()
                            .or(v.reinterpretAsInts().and(0x80000000))
                            .reinterpretAsFloats()
                            .intoArray(q, qb + j);
                }
            } else {
                for (int j = 0; j < 32; j++) q[qb + j] = (float) Math.rint(x[xb + j] * id);
            }
        }
    }

    /** fp32 → bf16 → fp32 with round-to-nearest-even (NaN kept quiet), as ggml's GGML_FP32_TO_BF16. */
    static float bf16Round(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return Float.intBitsToFloat((u | 0x00400000) & 0xffff0000);
        u = (u + (0x7fff + ((u >>> 16) & 1))) & 0xffff0000;
        return Float.intBitsToFloat(u);
    }

    // ------------------------------------------------------------------------------------------------
    // Dequantization (scalar: it runs once per row per matmul call at most, or for embedding lookups).
    // Each value is computed with the same float operations, in the same order, as the vector kernels above.

    /** Decodes {@code n} values of encoding {@code type} starting at byte {@code off} into {@code dst[dstOff..]}. */
    public static void dequantize(GgmlType type, MemorySegment w, long off, float[] dst, int dstOff, int n) {
        switch (type) {
            case F32 -> MemorySegment.copy(w, F32, off, dst, dstOff, n);
            case F16 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(w.get(I16, off + 2L * i));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = Float.intBitsToFloat(w.get(I16, off + 2L * i) << 16);
            }
            case Q8_0 -> {
                // Vectorized: the hot type of the many-token matmul path; same d*q products as the scalar form.
                for (int b = 0; b < n; b += 32, off += 34) {
                    FloatVector d = FloatVector.broadcast(F, f16(w, off));
                    for (int j = 0; j < 32; j += L)
                        b2f(ByteVector.fromMemorySegment(B, w, off + 2 + j, LE))
                                .mul(d)
                                .intoArray(dst, dstOff + b + j);
                }
            }
            case Q4_0 -> {
                // Vectorized like Q8_0 (the many-token path of Q4_0 models), with dotLegacy's exact operations:
                // float(nibble - 8) * d; low nibbles are values 0..15 of the block, high nibbles 16..31.
                for (int b = 0; b < n; b += 32, off += 18) {
                    FloatVector d = FloatVector.broadcast(F, f16(w, off));
                    for (int j = 0; j < 16; j += L) {
                        ByteVector q = ByteVector.fromMemorySegment(B, w, off + 2 + j, LE);
                        b2f(q.and((byte) 0x0F).sub((byte) 8)).mul(d).intoArray(dst, dstOff + b + j);
                        b2f(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8))
                                .mul(d)
                                .intoArray(dst, dstOff + b + 16 + j);
                    }
                }
            }
            case Q4_1 -> {
                boolean hasMin = type == GgmlType.Q4_1;
                int stride = hasMin ? 20 : 18, qs = hasMin ? 4 : 2;
                for (int b = 0; b < n; b += 32, off += stride) {
                    float d = f16(w, off), m = hasMin ? f16(w, off + 2) : 0f;
                    int bias = hasMin ? 0 : 8;
                    for (int j = 0; j < 16; j++) {
                        int q = u8(w, off + qs + j);
                        dst[dstOff + b + j] = hasMin ? d * (q & 0x0F) + m : d * ((q & 0x0F) - bias);
                        dst[dstOff + b + j + 16] = hasMin ? d * (q >> 4) + m : d * ((q >> 4) - bias);
                    }
                }
            }
            case Q5_0, Q5_1 -> {
                boolean hasMin = type == GgmlType.Q5_1;
                int stride = hasMin ? 24 : 22, qhOff = hasMin ? 4 : 2;
                for (int b = 0; b < n; b += 32, off += stride) {
                    float d = f16(w, off), m = hasMin ? f16(w, off + 2) : 0f;
                    int qh = w.get(I32, off + qhOff);
                    for (int j = 0; j < 16; j++) {
                        int q = u8(w, off + qhOff + 4 + j);
                        int q0 = (q & 0x0F) | (((qh >>> j) & 1) << 4), q1 = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
                        dst[dstOff + b + j] = hasMin ? d * q0 + m : d * (q0 - 16);
                        dst[dstOff + b + j + 16] = hasMin ? d * q1 + m : d * (q1 - 16);
                    }
                }
            }
            case Q4_K, Q5_K -> {
                boolean five = type == GgmlType.Q5_K;
                int stride = five ? 176 : 144;
                for (int b = 0; b < n; b += 256, off += stride) {
                    float d = f16(w, off), dmin = f16(w, off + 2);
                    long sc = off + 4, qh = off + 16, qs = five ? off + 48 : off + 16;
                    for (int c = 0; c < 4; c++) {
                        float d1 = d * kScale(w, sc, 2 * c), m1 = dmin * kMin(w, sc, 2 * c);
                        float d2 = d * kScale(w, sc, 2 * c + 1), m2 = dmin * kMin(w, sc, 2 * c + 1);
                        for (int l = 0; l < 32; l++) {
                            int q = u8(w, qs + 32 * c + l);
                            int h = five ? u8(w, qh + l) >> (2 * c) : 0;
                            dst[dstOff + b + 64 * c + l] = d1 * ((q & 0x0F) | ((h & 1) << 4)) - m1;
                            dst[dstOff + b + 64 * c + 32 + l] = d2 * ((q >> 4) | ((h & 2) << 3)) - m2;
                        }
                    }
                }
            }
            case Q6_K -> {
                for (int b = 0; b < n; b += 256, off += 210) {
                    float d = f16(w, off + 208);
                    for (int half = 0; half < 2; half++) {
                        long ql = off + 64 * half, qh = off + 128 + 32 * half, sc = off + 192 + 8 * half;
                        int y = dstOff + b + 128 * half;
                        for (int l = 0; l < 32; l++) {
                            int is = l / 16, a = u8(w, ql + l), c = u8(w, ql + 32 + l), h = u8(w, qh + l);
                            dst[y + l] =
                                    d * w.get(ValueLayout.JAVA_BYTE, sc + is) * (((a & 0x0F) | ((h & 3) << 4)) - 32);
                            dst[y + l + 32] = d
                                    * w.get(ValueLayout.JAVA_BYTE, sc + is + 2)
                                    * (((c & 0x0F) | (((h >> 2) & 3) << 4)) - 32);
                            dst[y + l + 64] = d
                                    * w.get(ValueLayout.JAVA_BYTE, sc + is + 4)
                                    * (((a >> 4) | (((h >> 4) & 3) << 4)) - 32);
                            dst[y + l + 96] = d
                                    * w.get(ValueLayout.JAVA_BYTE, sc + is + 6)
                                    * (((c >> 4) | (((h >> 6) & 3) << 4)) - 32);
                        }
                    }
                }
            }
            default -> throw new UnsupportedModelException("cannot dequantize weight type " + type);
        }
    }
}
