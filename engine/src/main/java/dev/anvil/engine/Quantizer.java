package dev.anvil.engine;

import java.util.EnumSet;
import java.util.Set;

/**
 * Encodes float rows into the GGML on-disk tensor encodings (the write side of {@link GgmlType}). Block
 * layouts are byte-for-byte those of GGML, so files written with them load in llama.cpp:
 *
 * <ul>
 *   <li>{@code F16}: IEEE binary16, little-endian, round to nearest even.</li>
 *   <li>{@code BF16}: the upper 16 bits of the float, rounded to nearest even (NaN kept quiet).</li>
 *   <li>{@code Q8_0}: 32 values = {@code fp16 d} + 32 {@code int8}; {@code d = max|x| / 127}.</li>
 *   <li>{@code Q4_0}: 32 values = {@code fp16 d} + 16 bytes; element {@code j} in the low nibble of byte
 *       {@code j}, element {@code j+16} in its high nibble; value = {@code (q - 8) * d}, where {@code d} is
 *       the signed value of largest magnitude divided by -8.</li>
 *   <li>{@code Q5_0}: as Q4_0 with a fifth bit per element in a 32-bit {@code qh} word after {@code d};
 *       value = {@code (q - 16) * d}, {@code d = signed max / -16}.</li>
 *   <li>{@code Q4_K}: 256 values = {@code fp16 d}, {@code fp16 dmin}, 12 bytes of eight 6-bit scales and
 *       eight 6-bit mins, 128 bytes of 4-bit quants; sub-block {@code j} of 32 decodes as
 *       {@code d*sc[j]*q - dmin*m[j]}. Scales and mins are fitted by the weighted least-squares search
 *       GGML uses for its reference quantizer.</li>
 * </ul>
 */
public final class Quantizer {

    /** Encodings this class can write. */
    public static final Set<GgmlType> WRITABLE = EnumSet.of(
            GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K);

    private Quantizer() {}

    /** Bytes needed for {@code n} values of {@code type}; {@code n} must be a whole number of blocks. */
    public static long encodedSize(GgmlType type, long n) {
        return type.bytesFor(n);
    }

    /** Encodes {@code src} (a whole number of blocks) into a new array. */
    public static byte[] quantize(GgmlType type, float[] src) {
        long size = encodedSize(type, src.length);
        byte[] out = new byte[Math.toIntExact(size)];
        quantize(type, src, 0, src.length, out, 0);
        return out;
    }

    /**
     * Encodes {@code src[srcOff .. srcOff+n)} into {@code dst} from {@code dstOff}; returns the number of bytes
     * written. {@code n} must be a multiple of the type's block size.
     */
    public static int quantize(GgmlType type, float[] src, int srcOff, int n, byte[] dst, int dstOff) {
        if (!WRITABLE.contains(type)) {
            throw new IllegalArgumentException("cannot encode tensors as " + type + " (writable: " + WRITABLE + ")");
        }
        if (n % type.blockSize != 0) {
            throw new IllegalArgumentException(
                    n + " values is not a multiple of the " + type + " block size " + type.blockSize);
        }
        int bytes = Math.toIntExact(type.bytesFor(n));
        if (srcOff < 0 || srcOff + n > src.length || dstOff < 0 || dstOff + bytes > dst.length) {
            throw new IndexOutOfBoundsException("quantize " + type + ": source or destination range out of bounds");
        }
        int blocks = n / type.blockSize;
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) putI32(dst, dstOff + 4 * i, Float.floatToRawIntBits(src[srcOff + i]));
            }
            case F16 -> {
                for (int i = 0; i < n; i++) putI16(dst, dstOff + 2 * i, Float.floatToFloat16(src[srcOff + i]));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) putI16(dst, dstOff + 2 * i, floatToBf16(src[srcOff + i]));
            }
            case Q8_0 -> {
                for (int b = 0; b < blocks; b++) blockQ8_0(src, srcOff + 32 * b, dst, dstOff + 34 * b);
            }
            case Q4_0 -> {
                for (int b = 0; b < blocks; b++) blockQ4_0(src, srcOff + 32 * b, dst, dstOff + 18 * b);
            }
            case Q5_0 -> {
                for (int b = 0; b < blocks; b++) blockQ5_0(src, srcOff + 32 * b, dst, dstOff + 22 * b);
            }
            case Q4_K -> {
                QkScratch scratch = new QkScratch();
                for (int b = 0; b < blocks; b++) blockQ4_K(src, srcOff + 256 * b, dst, dstOff + 144 * b, scratch);
            }
            default -> throw new IllegalStateException(type.toString());
        }
        return bytes;
    }

    /** BF16 bits of {@code f}: round to nearest even on the dropped 16 bits; NaNs stay NaN (quiet bit set). */
    public static short floatToBf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) {
            return (short) ((u >>> 16) | 64);
        }
        return (short) ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16);
    }

    // --- 32-element blocks ----------------------------------------------------------------------------

    private static void blockQ8_0(float[] x, int xo, byte[] y, int yo) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[xo + i]));
        float d = amax / 127f;
        float id = d != 0 ? 1f / d : 0f;
        putI16(y, yo, Float.floatToFloat16(d));
        for (int i = 0; i < 32; i++) {
            y[yo + 2 + i] = (byte) roundHalfAway(x[xo + i] * id);
        }
    }

    /** The element of largest magnitude, with its sign (the sign decides which end of the range is exact). */
    private static float signedAbsMax(float[] x, int xo) {
        float amax = 0, max = 0;
        for (int i = 0; i < 32; i++) {
            float v = x[xo + i];
            if (Math.abs(v) > amax) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    private static void blockQ4_0(float[] x, int xo, byte[] y, int yo) {
        float d = signedAbsMax(x, xo) / -8f;
        float id = d != 0 ? 1f / d : 0f;
        putI16(y, yo, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(15, (int) (x[xo + j] * id + 8.5f));
            int q1 = Math.min(15, (int) (x[xo + 16 + j] * id + 8.5f));
            y[yo + 2 + j] = (byte) (q0 | (q1 << 4));
        }
    }

    private static void blockQ5_0(float[] x, int xo, byte[] y, int yo) {
        float d = signedAbsMax(x, xo) / -16f;
        float id = d != 0 ? 1f / d : 0f;
        putI16(y, yo, Float.floatToFloat16(d));
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(31, (int) (x[xo + j] * id + 16.5f));
            int q1 = Math.min(31, (int) (x[xo + 16 + j] * id + 16.5f));
            y[yo + 6 + j] = (byte) ((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh |= ((q0 >> 4) & 1) << j;
            qh |= ((q1 >> 4) & 1) << (j + 16);
        }
        putI32(y, yo + 2, qh);
    }

    // --- Q4_K ---------------------------------------------------------------------------------------

    private static final class QkScratch {
        final byte[] levels = new byte[256];
        final byte[] levelsTry = new byte[32];
        final float[] weights = new float[32];
        final float[] scales = new float[8];
        final float[] mins = new float[8];
        final float[] minOut = new float[1];
    }

    private static void blockQ4_K(float[] x, int xo, byte[] y, int yo, QkScratch s) {
        float sumSq = 0;
        for (int i = 0; i < 256; i++) sumSq += x[xo + i] * x[xo + i];
        float avX = (float) Math.sqrt(sumSq / 256);

        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++) {
            for (int l = 0; l < 32; l++) s.weights[l] = avX + Math.abs(x[xo + 32 * j + l]);
            s.scales[j] = fitScaleMin(x, xo + 32 * j, s.weights, s.levels, 32 * j, s.levelsTry, s.minOut);
            s.mins[j] = s.minOut[0];
            maxScale = Math.max(maxScale, s.scales[j]);
            maxMin = Math.max(maxMin, s.mins[j]);
        }

        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        byte[] packed = new byte[12];
        for (int j = 0; j < 8; j++) {
            int ls = Math.min(63, nearestInt(invScale * s.scales[j]));
            int lm = Math.min(63, nearestInt(invMin * s.mins[j]));
            // 6-bit scale/min packing of GGML's get_scale_min_k4: sub-blocks 0..3 use the low 6 bits of bytes
            // 0..3 (scales) and 4..7 (mins); sub-blocks 4..7 put their low nibbles in bytes 8..11 and their
            // top two bits in the spare high bits of bytes 0..7.
            if (j < 4) {
                packed[j] = (byte) ls;
                packed[j + 4] = (byte) lm;
            } else {
                packed[j + 4] = (byte) ((ls & 0x0f) | ((lm & 0x0f) << 4));
                packed[j - 4] |= (byte) ((ls >> 4) << 6);
                packed[j] |= (byte) ((lm >> 4) << 6);
            }
        }
        short dBits = Float.floatToFloat16(maxScale / 63f);
        short dminBits = Float.floatToFloat16(maxMin / 63f);
        putI16(y, yo, dBits);
        putI16(y, yo + 2, dminBits);
        System.arraycopy(packed, 0, y, yo + 4, 12);

        // Re-derive the levels against the scales as they will actually be decoded (fp16 d, 6-bit factors).
        float d = Float.float16ToFloat(dBits);
        float dmin = Float.float16ToFloat(dminBits);
        for (int j = 0; j < 8; j++) {
            int sc = scaleK4(packed, j), m = minK4(packed, j);
            float dj = d * sc;
            if (dj == 0) {
                for (int l = 0; l < 32; l++) s.levels[32 * j + l] = 0;
                continue;
            }
            float dm = dmin * m;
            for (int l = 0; l < 32; l++) {
                int q = nearestInt((x[xo + 32 * j + l] + dm) / dj);
                s.levels[32 * j + l] = (byte) Math.max(0, Math.min(15, q));
            }
        }
        // Each 64-value chunk: value l in the low nibble of byte l, value l+32 in the high nibble.
        int q = yo + 16;
        for (int c = 0; c < 256; c += 64) {
            for (int l = 0; l < 32; l++) {
                y[q + l] = (byte) (s.levels[c + l] | (s.levels[c + l + 32] << 4));
            }
            q += 32;
        }
    }

    /** 6-bit scale of sub-block {@code j} from the packed 12-byte field. */
    static int scaleK4(byte[] p, int j) {
        return j < 4 ? p[j] & 63 : (p[j + 4] & 0x0f) | (((p[j - 4] & 0xff) >> 6) << 4);
    }

    /** 6-bit min of sub-block {@code j} from the packed 12-byte field. */
    static int minK4(byte[] p, int j) {
        return j < 4 ? p[j + 4] & 63 : ((p[j + 4] & 0xff) >> 4) | (((p[j] & 0xff) >> 6) << 4);
    }

    /**
     * Fits {@code x ≈ scale * L - min} with 4-bit levels L for one 32-value sub-block, minimising the weighted
     * squared error: start from the plain min/max mapping, then try 21 slightly different level spacings and
     * keep the least-squares (scale, min) of whichever assignment fits best. The offset is never allowed to
     * be positive, so zero stays representable. Returns the scale; {@code minOut[0]} receives the (non-negative)
     * amount subtracted.
     */
    private static float fitScaleMin(
            float[] x, int xo, float[] w, byte[] levels, int lo, byte[] trial, float[] minOut) {
        final int n = 32, nmax = 15, nstep = 20;
        final float rmin = -1f, rdelta = 0.1f;
        float min = x[xo], max = x[xo];
        float sumW = w[0], sumX = w[0] * x[xo];
        for (int i = 1; i < n; i++) {
            float v = x[xo + i];
            if (v < min) min = v;
            if (v > max) max = v;
            sumW += w[i];
            sumX += w[i] * v;
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; i++) levels[lo + i] = 0;
            minOut[0] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1f / iscale;
        float bestErr = 0;
        for (int i = 0; i < n; i++) {
            int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
            levels[lo + i] = (byte) l;
            float diff = scale * l + min - x[xo + i];
            bestErr += w[i] * diff * diff;
        }
        for (int step = 0; step <= nstep; step++) {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
                trial[i] = (byte) l;
                sumL += w[i] * l;
                sumL2 += w[i] * l * l;
                sumXL += w[i] * l * x[xo + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float err = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * trial[i] + thisMin - x[xo + i];
                    err += w[i] * diff * diff;
                }
                if (err < bestErr) {
                    System.arraycopy(trial, 0, levels, lo, n);
                    bestErr = err;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        minOut[0] = -min;
        return scale;
    }

    /** C's roundf: ties away from zero (Math.round would send -2.5 to -2). */
    private static int roundHalfAway(float v) {
        return (int) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }

    /** Round to nearest, ties to even (what GGML's nearest_int does with its float trick). */
    private static int nearestInt(float v) {
        return (int) Math.rint(v);
    }

    private static void putI16(byte[] b, int off, short v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >> 8);
    }

    private static void putI32(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >> 8);
        b[off + 2] = (byte) (v >> 16);
        b[off + 3] = (byte) (v >> 24);
    }
}
