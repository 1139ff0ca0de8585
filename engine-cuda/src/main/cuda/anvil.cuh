// Shared device code of Anvil's kernels: reading GGUF weight encodings in place, and warp reductions.
//
// Weights stay on the device exactly as the GGUF file stores them (the engine's GgmlType/QuantKernels layouts), so
// a quantized model takes its file size in device memory and every matrix product streams the compact encoding.
// Every kernel decodes through decode8: the 8 consecutive weights 8g .. 8g+7 of one row. Eight is the unit because
// it is one 16-byte load of F16/BF16, a quarter of a 32-weight block (Q8_0, Q4_0) and one run of 8 bytes of the
// K-quants' 256-weight super-blocks that shares a single scale, so no unit straddles a scale boundary.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

// GGML type codes, as in GgmlType.id: the host passes them to pick a kernel instance by name.
enum : int { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q8_0 = 8, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_BF16 = 30 };

// Quantized blocks put their fp16 scales at 2-byte alignment only: read them bytewise.
__device__ __forceinline__ float ld_f16(const uint8_t* p) {
    return __half2float(__ushort_as_half((unsigned short)(p[0] | (p[1] << 8))));
}

// get_scale_min_k4 of ggml: the 6-bit scale and min of sub-block j (0..7) from a K-quant's 12 packed bytes.
__device__ __forceinline__ void k_scale_min(const uint8_t* s, int j, float* sc, float* mn) {
    if (j < 4) {
        *sc = (float)(s[j] & 63);
        *mn = (float)(s[j + 4] & 63);
    } else {
        *sc = (float)((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4));
        *mn = (float)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

// The weights 8g .. 8g+7 of the row starting at `row`, decoded to floats (the same values as QuantKernels.dequantize).
template <int TYPE>
__device__ __forceinline__ void decode8(const uint8_t* __restrict__ row, int g, float v[8]) {
    if constexpr (TYPE == T_F32) {
        const float4* p = reinterpret_cast<const float4*>(row + 32 * g);
        float4 a = p[0], b = p[1];
        v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
    } else if constexpr (TYPE == T_F16) {
        uint4 raw = *reinterpret_cast<const uint4*>(row + 16 * g);
        const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float2 f = __half22float2(h[i]);
            v[2 * i] = f.x;
            v[2 * i + 1] = f.y;
        }
    } else if constexpr (TYPE == T_BF16) {
        uint4 raw = *reinterpret_cast<const uint4*>(row + 16 * g);
        const uint32_t* w = reinterpret_cast<const uint32_t*>(&raw);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            v[2 * i] = __uint_as_float(w[i] << 16);
            v[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u);
        }
    } else if constexpr (TYPE == T_Q8_0) {
        // block: fp16 d, int8 q[32]; value = d * q
        const uint8_t* b = row + (g >> 2) * 34;
        float d = ld_f16(b);
        const int8_t* q = reinterpret_cast<const int8_t*>(b + 2 + 8 * (g & 3));
#pragma unroll
        for (int i = 0; i < 8; i++) v[i] = d * (float)q[i];
    } else if constexpr (TYPE == T_Q4_0) {
        // block: fp16 d, 16 bytes; value j (0..15) is the low nibble of byte j, value j+16 its high nibble, minus 8
        const uint8_t* b = row + (g >> 2) * 18;
        float d = ld_f16(b);
        int part = g & 3;
        const uint8_t* q = b + 2 + 8 * (part & 1);
        int shift = part >= 2 ? 4 : 0;
#pragma unroll
        for (int i = 0; i < 8; i++) v[i] = d * (float)(((q[i] >> shift) & 0x0F) - 8);
    } else if constexpr (TYPE == T_Q4_K || TYPE == T_Q5_K) {
        // super-block of 256: fp16 d, fp16 dmin, 12 bytes of 6-bit scales/mins, [Q5_K: 32 bytes of high bits],
        // 128 bytes of nibbles; chunk c (64 values) takes the low nibbles of bytes 32c.. for sub-block 2c and the
        // high nibbles for 2c+1; value = d*scale*q - dmin*min
        constexpr int STRIDE = TYPE == T_Q5_K ? 176 : 144;
        const uint8_t* b = row + (g >> 5) * STRIDE;
        int e = 8 * (g & 31), sub = e >> 5, l0 = e & 31, c = sub >> 1;
        float sc, mn;
        k_scale_min(b + 4, sub, &sc, &mn);
        float d = ld_f16(b) * sc, m = ld_f16(b + 2) * mn;
        const uint8_t* qs = b + (TYPE == T_Q5_K ? 48 : 16) + 32 * c + l0;
        int shift = (sub & 1) ? 4 : 0;
#pragma unroll
        for (int i = 0; i < 8; i++) {
            int q = (qs[i] >> shift) & 0x0F;
            if constexpr (TYPE == T_Q5_K) q |= ((b[16 + l0 + i] >> sub) & 1) << 4;
            v[i] = d * (float)q - m;
        }
    } else if constexpr (TYPE == T_Q6_K) {
        // super-block of 256: ql[128] low nibbles, qh[64] 2-bit highs, int8 scales[16], fp16 d at the end; each half
        // of 128 values reads ql[64], qh[32], scales[8]; quarter k of a half: ql byte l (+32 for odd k), nibble high
        // for k >= 2, high bits (qh[l] >> 2k) & 3, scale index 2k + l/16; value = d * scale * (q - 32)
        const uint8_t* b = row + (g >> 5) * 210;
        int e = 8 * (g & 31), half = e >> 7, k = (e >> 5) & 3, l0 = e & 31;
        const uint8_t* ql = b + 64 * half + 32 * (k & 1) + l0;
        const uint8_t* qh = b + 128 + 32 * half + l0;
        float d = ld_f16(b + 208) * (float)(reinterpret_cast<const int8_t*>(b + 192 + 8 * half))[2 * k + (l0 >> 4)];
        int shift = k >= 2 ? 4 : 0;
#pragma unroll
        for (int i = 0; i < 8; i++) {
            int q = ((ql[i] >> shift) & 0x0F) | (((qh[i] >> (2 * k)) & 3) << 4);
            v[i] = d * (float)(q - 32);
        }
    }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
