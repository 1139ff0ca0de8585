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
 * Activations stay in float: every kernel widens the weights to float lanes and uses FMA. Compared with
 * llama.cpp's path (activations rounded to int8 per 32-block) this is slightly more accurate and, on AVX2
 * without a usable int8 dot instruction in the Vector API, measured no slower (see the report in
 * {@code LlamaModel}'s javadoc). The vector width is the platform's preferred float shape.
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

    static float f16(MemorySegment s, long off) { return Float.float16ToFloat(s.get(I16, off)); }
    static int u8(MemorySegment s, long off) { return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF; }

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
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
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
        float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
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

    /** {@code y[yOff+i] += a * x[xOff+i]}. */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector av = FloatVector.broadcast(F, a);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(F, x, xOff + i).fma(av, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    // ------------------------------------------------------------------------------------------------
    // Weight-row dot products: row of n weights at byte offset off, against x[xOff .. xOff+n)

    static float dotF32(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            acc0 = FloatVector.fromMemorySegment(F, w, off + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOff + i), acc0);
            acc1 = FloatVector.fromMemorySegment(F, w, off + 4L * (i + L), LE).fma(FloatVector.fromArray(F, x, xOff + i + L), acc1);
        }
        for (; i <= n - L; i += L) {
            acc0 = FloatVector.fromMemorySegment(F, w, off + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOff + i), acc0);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += w.get(F32, off + 4L * i) * x[xOff + i];
        return sum;
    }

    static float dotF16(MemorySegment w, long off, float[] x, int xOff, int n) {
        // Float.float16ToFloat is an intrinsic (vcvtph2ps) and this loop is auto-vectorized by C2;
        // the Vector API has no half-to-float lane conversion in this JDK.
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i <= n - 4; i += 4) {
            long o = off + 2L * i;
            s0 += Float.float16ToFloat(w.get(I16, o)) * x[xOff + i];
            s1 += Float.float16ToFloat(w.get(I16, o + 2)) * x[xOff + i + 1];
            s2 += Float.float16ToFloat(w.get(I16, o + 4)) * x[xOff + i + 2];
            s3 += Float.float16ToFloat(w.get(I16, o + 6)) * x[xOff + i + 3];
        }
        for (; i < n; i++) s0 += Float.float16ToFloat(w.get(I16, off + 2L * i)) * x[xOff + i];
        return (s0 + s1) + (s2 + s3);
    }

    static float dotBF16(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - L; i += L) {
            // bf16 is the top half of a float32: widen, shift into place, reinterpret.
            FloatVector wv = ShortVector.fromMemorySegment(S, w, off + 2L * i, LE)
                    .convertShape(VectorOperators.S2I, I, 0).lanewise(VectorOperators.LSHL, 16)
                    .reinterpretAsFloats();
            acc = wv.fma(FloatVector.fromArray(F, x, xOff + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += Float.intBitsToFloat(w.get(I16, off + 2L * i) << 16) * x[xOff + i];
        return sum;
    }

    static float dotQ8_0(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n; b += 32, off += 34) {
            FloatVector blk = FloatVector.zero(F);
            for (int j = 0; j < 32; j += L) {
                FloatVector wv = (FloatVector) ByteVector.fromMemorySegment(B, w, off + 2 + j, LE).convertShape(VectorOperators.B2F, F, 0);
                blk = wv.fma(FloatVector.fromArray(F, x, xOff + b + j), blk);
            }
            acc = blk.fma(FloatVector.broadcast(F, f16(w, off)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float dotQ4_0(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n; b += 32, off += 18) {
            FloatVector blk = FloatVector.zero(F);
            for (int j = 0; j < 16; j += L) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, off + 2 + j, LE);
                FloatVector lo = (FloatVector) q.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
                FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
                blk = lo.fma(FloatVector.fromArray(F, x, xOff + b + j), blk);
                blk = hi.fma(FloatVector.fromArray(F, x, xOff + b + 16 + j), blk);
            }
            acc = blk.fma(FloatVector.broadcast(F, f16(w, off)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float dotQ4_1(MemorySegment w, long off, float[] x, int xOff, int n) {
        // sum (d*q + m)*x = d*sum(q*x) + m*sum(x)
        float sum = 0;
        for (int b = 0; b < n; b += 32, off += 20) {
            FloatVector qx = FloatVector.zero(F), xs = FloatVector.zero(F);
            for (int j = 0; j < 16; j += L) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, off + 4 + j, LE);
                FloatVector lo = (FloatVector) q.and((byte) 0x0F).convertShape(VectorOperators.B2F, F, 0);
                FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.B2F, F, 0);
                FloatVector x0 = FloatVector.fromArray(F, x, xOff + b + j), x1 = FloatVector.fromArray(F, x, xOff + b + 16 + j);
                qx = lo.fma(x0, hi.fma(x1, qx));
                xs = xs.add(x0).add(x1);
            }
            sum += f16(w, off) * qx.reduceLanes(VectorOperators.ADD) + f16(w, off + 2) * xs.reduceLanes(VectorOperators.ADD);
        }
        return sum;
    }

    /** Lane i of the result holds bit (shift+i) of qh, moved to bit 4 (the 5th bit of a Q5 value). */
    private static ByteVector q5HighBits(int qh, int shift) {
        IntVector bits = IntVector.broadcast(I, qh).lanewise(VectorOperators.LSHR, IntVector.zero(I).addIndex(1).add(shift))
                .and(1).lanewise(VectorOperators.LSHL, 4);
        return (ByteVector) bits.convertShape(VectorOperators.I2B, B, 0);
    }

    static float dotQ5_0(MemorySegment w, long off, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n; b += 32, off += 22) {
            int qh = w.get(I32, off + 2);
            FloatVector blk = FloatVector.zero(F);
            for (int j = 0; j < 16; j += L) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, off + 6 + j, LE);
                FloatVector lo = (FloatVector) q.and((byte) 0x0F).or(q5HighBits(qh, j)).sub((byte) 16).convertShape(VectorOperators.B2F, F, 0);
                FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).or(q5HighBits(qh, j + 16)).sub((byte) 16).convertShape(VectorOperators.B2F, F, 0);
                blk = lo.fma(FloatVector.fromArray(F, x, xOff + b + j), blk);
                blk = hi.fma(FloatVector.fromArray(F, x, xOff + b + 16 + j), blk);
            }
            acc = blk.fma(FloatVector.broadcast(F, f16(w, off)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float dotQ5_1(MemorySegment w, long off, float[] x, int xOff, int n) {
        float sum = 0;
        for (int b = 0; b < n; b += 32, off += 24) {
            int qh = w.get(I32, off + 4);
            FloatVector qx = FloatVector.zero(F), xs = FloatVector.zero(F);
            for (int j = 0; j < 16; j += L) {
                ByteVector q = ByteVector.fromMemorySegment(B, w, off + 8 + j, LE);
                FloatVector lo = (FloatVector) q.and((byte) 0x0F).or(q5HighBits(qh, j)).convertShape(VectorOperators.B2F, F, 0);
                FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).or(q5HighBits(qh, j + 16)).convertShape(VectorOperators.B2F, F, 0);
                FloatVector x0 = FloatVector.fromArray(F, x, xOff + b + j), x1 = FloatVector.fromArray(F, x, xOff + b + 16 + j);
                qx = lo.fma(x0, hi.fma(x1, qx));
                xs = xs.add(x0).add(x1);
            }
            sum += f16(w, off) * qx.reduceLanes(VectorOperators.ADD) + f16(w, off + 2) * xs.reduceLanes(VectorOperators.ADD);
        }
        return sum;
    }

    /** The 6-bit scale (index 0) and min (index 1) of sub-block j of a Q4_K/Q5_K block, from its 12 packed bytes. */
    static int kScale(MemorySegment w, long scalesOff, int j) {
        return j < 4 ? u8(w, scalesOff + j) & 63
                : (u8(w, scalesOff + j + 4) & 0x0F) | ((u8(w, scalesOff + j - 4) >> 6) << 4);
    }

    static int kMin(MemorySegment w, long scalesOff, int j) {
        return j < 4 ? u8(w, scalesOff + j + 4) & 63
                : (u8(w, scalesOff + j + 4) >> 4) | ((u8(w, scalesOff + j) >> 6) << 4);
    }

    static float dotQ4_K(MemorySegment w, long off, float[] x, int xOff, int n) {
        float sum = 0;
        for (int b = 0; b < n; b += 256, off += 144) {
            float d = f16(w, off), dmin = f16(w, off + 2);
            long sc = off + 4, qs = off + 16;
            for (int c = 0; c < 4; c++) { // 64 values per 32 bytes: low nibbles first sub-block, high the second
                FloatVector lo = FloatVector.zero(F), hi = FloatVector.zero(F), xs0 = lo, xs1 = lo;
                int base = xOff + b + 64 * c;
                for (int j = 0; j < 32; j += L) {
                    ByteVector q = ByteVector.fromMemorySegment(B, w, qs + 32 * c + j, LE);
                    FloatVector x0 = FloatVector.fromArray(F, x, base + j), x1 = FloatVector.fromArray(F, x, base + 32 + j);
                    lo = ((FloatVector) q.and((byte) 0x0F).convertShape(VectorOperators.B2F, F, 0)).fma(x0, lo);
                    hi = ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.B2F, F, 0)).fma(x1, hi);
                    xs0 = xs0.add(x0);
                    xs1 = xs1.add(x1);
                }
                sum += d * (kScale(w, sc, 2 * c) * lo.reduceLanes(VectorOperators.ADD) + kScale(w, sc, 2 * c + 1) * hi.reduceLanes(VectorOperators.ADD))
                        - dmin * (kMin(w, sc, 2 * c) * xs0.reduceLanes(VectorOperators.ADD) + kMin(w, sc, 2 * c + 1) * xs1.reduceLanes(VectorOperators.ADD));
            }
        }
        return sum;
    }

    static float dotQ5_K(MemorySegment w, long off, float[] x, int xOff, int n) {
        float sum = 0;
        for (int b = 0; b < n; b += 256, off += 176) {
            float d = f16(w, off), dmin = f16(w, off + 2);
            long sc = off + 4, qhOff = off + 16, qs = off + 48;
            for (int c = 0; c < 4; c++) {
                FloatVector lo = FloatVector.zero(F), hi = FloatVector.zero(F), xs0 = lo, xs1 = lo;
                int base = xOff + b + 64 * c;
                for (int j = 0; j < 32; j += L) {
                    ByteVector q = ByteVector.fromMemorySegment(B, w, qs + 32 * c + j, LE);
                    ByteVector h = ByteVector.fromMemorySegment(B, w, qhOff + j, LE).lanewise(VectorOperators.LSHR, 2 * c);
                    ByteVector q0 = q.and((byte) 0x0F).or(h.and((byte) 1).lanewise(VectorOperators.LSHL, 4));
                    ByteVector q1 = q.lanewise(VectorOperators.LSHR, 4).or(h.and((byte) 2).lanewise(VectorOperators.LSHL, 3));
                    FloatVector x0 = FloatVector.fromArray(F, x, base + j), x1 = FloatVector.fromArray(F, x, base + 32 + j);
                    lo = ((FloatVector) q0.convertShape(VectorOperators.B2F, F, 0)).fma(x0, lo);
                    hi = ((FloatVector) q1.convertShape(VectorOperators.B2F, F, 0)).fma(x1, hi);
                    xs0 = xs0.add(x0);
                    xs1 = xs1.add(x1);
                }
                sum += d * (kScale(w, sc, 2 * c) * lo.reduceLanes(VectorOperators.ADD) + kScale(w, sc, 2 * c + 1) * hi.reduceLanes(VectorOperators.ADD))
                        - dmin * (kMin(w, sc, 2 * c) * xs0.reduceLanes(VectorOperators.ADD) + kMin(w, sc, 2 * c + 1) * xs1.reduceLanes(VectorOperators.ADD));
            }
        }
        return sum;
    }

    static float dotQ6_K(MemorySegment w, long off, float[] x, int xOff, int n) {
        float sum = 0;
        for (int b = 0; b < n; b += 256, off += 210) {
            float d = f16(w, off + 208);
            for (int half = 0; half < 2; half++) {
                long ql = off + 64 * half, qh = off + 128 + 32 * half, sc = off + 192 + 8 * half;
                int base = xOff + b + 128 * half;
                for (int g = 0; g < 2; g++) { // l in [16g, 16g+16) shares scales sc[g + {0,2,4,6}]
                    FloatVector s1 = FloatVector.zero(F), s2 = s1, s3 = s1, s4 = s1;
                    for (int j = 16 * g; j < 16 * g + 16; j += L) {
                        ByteVector a = ByteVector.fromMemorySegment(B, w, ql + j, LE);
                        ByteVector c = ByteVector.fromMemorySegment(B, w, ql + 32 + j, LE);
                        ByteVector h = ByteVector.fromMemorySegment(B, w, qh + j, LE);
                        ByteVector q1 = a.and((byte) 0x0F).or(h.and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                        ByteVector q2 = c.and((byte) 0x0F).or(h.lanewise(VectorOperators.LSHR, 2).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                        ByteVector q3 = a.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 4).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                        ByteVector q4 = c.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 6).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                        s1 = ((FloatVector) q1.convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, base + j), s1);
                        s2 = ((FloatVector) q2.convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, base + 32 + j), s2);
                        s3 = ((FloatVector) q3.convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, base + 64 + j), s3);
                        s4 = ((FloatVector) q4.convertShape(VectorOperators.B2F, F, 0)).fma(FloatVector.fromArray(F, x, base + 96 + j), s4);
                    }
                    sum += d * (w.get(ValueLayout.JAVA_BYTE, sc + g) * s1.reduceLanes(VectorOperators.ADD)
                            + w.get(ValueLayout.JAVA_BYTE, sc + g + 2) * s2.reduceLanes(VectorOperators.ADD)
                            + w.get(ValueLayout.JAVA_BYTE, sc + g + 4) * s3.reduceLanes(VectorOperators.ADD)
                            + w.get(ValueLayout.JAVA_BYTE, sc + g + 6) * s4.reduceLanes(VectorOperators.ADD));
                }
            }
        }
        return sum;
    }

    // ------------------------------------------------------------------------------------------------
    // Dequantization (scalar: it runs once per row per matmul call at most, or for embedding lookups)

    /** Decodes {@code n} values of encoding {@code type} starting at byte {@code off} into {@code dst[dstOff..]}. */
    public static void dequantize(GgmlType type, MemorySegment w, long off, float[] dst, int dstOff, int n) {
        switch (type) {
            case F32 -> MemorySegment.copy(w, F32, off, dst, dstOff, n);
            case F16 -> { for (int i = 0; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(w.get(I16, off + 2L * i)); }
            case BF16 -> { for (int i = 0; i < n; i++) dst[dstOff + i] = Float.intBitsToFloat(w.get(I16, off + 2L * i) << 16); }
            case Q8_0 -> {
                for (int b = 0; b < n; b += 32, off += 34) {
                    float d = f16(w, off);
                    for (int j = 0; j < 32; j++) dst[dstOff + b + j] = d * w.get(ValueLayout.JAVA_BYTE, off + 2 + j);
                }
            }
            case Q4_0, Q4_1 -> {
                boolean hasMin = type == GgmlType.Q4_1;
                int stride = hasMin ? 20 : 18, qs = hasMin ? 4 : 2;
                for (int b = 0; b < n; b += 32, off += stride) {
                    float d = f16(w, off), m = hasMin ? f16(w, off + 2) : -8 * d;
                    for (int j = 0; j < 16; j++) {
                        int q = u8(w, off + qs + j);
                        dst[dstOff + b + j] = d * (q & 0x0F) + m;
                        dst[dstOff + b + j + 16] = d * (q >> 4) + m;
                    }
                }
            }
            case Q5_0, Q5_1 -> {
                boolean hasMin = type == GgmlType.Q5_1;
                int stride = hasMin ? 24 : 22, qhOff = hasMin ? 4 : 2;
                for (int b = 0; b < n; b += 32, off += stride) {
                    float d = f16(w, off), m = hasMin ? f16(w, off + 2) : -16 * d;
                    int qh = w.get(I32, off + qhOff);
                    for (int j = 0; j < 16; j++) {
                        int q = u8(w, off + qhOff + 4 + j);
                        dst[dstOff + b + j] = d * ((q & 0x0F) | (((qh >>> j) & 1) << 4)) + m;
                        dst[dstOff + b + j + 16] = d * ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) + m;
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
                            dst[y + l] = d * w.get(ValueLayout.JAVA_BYTE, sc + is) * (((a & 0x0F) | ((h & 3) << 4)) - 32);
                            dst[y + l + 32] = d * w.get(ValueLayout.JAVA_BYTE, sc + is + 2) * (((c & 0x0F) | (((h >> 2) & 3) << 4)) - 32);
                            dst[y + l + 64] = d * w.get(ValueLayout.JAVA_BYTE, sc + is + 4) * (((a >> 4) | (((h >> 4) & 3) << 4)) - 32);
                            dst[y + l + 96] = d * w.get(ValueLayout.JAVA_BYTE, sc + is + 6) * (((c >> 4) | (((h >> 6) & 3) << 4)) - 32);
                        }
                    }
                }
            }
            default -> throw new UnsupportedModelException("cannot dequantize weight type " + type);
        }
    }
}
