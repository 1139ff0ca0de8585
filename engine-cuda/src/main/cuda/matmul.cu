// Prefill and large batches: Y[t][r] = W[r] . X[t] for many tokens, W in its GGUF encoding.
//
// A block computes a 64-row x 64-token tile of Y. Per 32-wide step of the inner dimension it decodes the 64x32
// weights once into shared memory (each of the 256 threads decodes one 8-weight unit) and stages the 64x32
// activations beside them; each thread then accumulates a 4x4 sub-tile in fp32 registers, so every decoded weight
// is used 64 times from shared memory instead of being re-read from device memory per token. Rows and tokens of a
// thread's sub-tile are 16 apart, so consecutive threads write consecutive rows (coalesced stores) and read
// consecutive shared-memory words (no bank conflicts).
//
// This is the well-tiled fp32 CUDA-core kernel; the tensor-core form (decode to fp16/bf16 tiles and mma.sync, or
// wgmma on sm_90a) is the measured next step once a GPU run gives its baseline (docs/ARCHITECTURE.md).
#include "anvil.cuh"

#define TILE_ROWS 64
#define TILE_TOKENS 64
#define TILE_K 32

template <int TYPE>
__device__ __forceinline__ void matmul(
        const uint8_t* __restrict__ w, long long rowBytes, const float* __restrict__ x, float* __restrict__ y,
        int rows, int cols, int tokens) {
    __shared__ float ws[TILE_K][TILE_ROWS + 1];
    __shared__ float xs[TILE_K][TILE_TOKENS + 1];
    int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    int row0 = blockIdx.x * TILE_ROWS, tok0 = blockIdx.y * TILE_TOKENS;
    int loadRow = tid >> 2, part = tid & 3; // what this thread stages: row/token loadRow, k = 8*part .. 8*part+7
    float acc[4][4] = {};
    for (int k0 = 0; k0 < cols; k0 += TILE_K) {
        float v[8];
        if (row0 + loadRow < rows) {
            decode8<TYPE>(w + (long long)(row0 + loadRow) * rowBytes, (k0 >> 3) + part, v);
        } else {
#pragma unroll
            for (int i = 0; i < 8; i++) v[i] = 0.f;
        }
#pragma unroll
        for (int i = 0; i < 8; i++) ws[8 * part + i][loadRow] = v[i];
        if (tok0 + loadRow < tokens) {
            const float4* xp = reinterpret_cast<const float4*>(x + (long long)(tok0 + loadRow) * cols + k0 + 8 * part);
            float4 a = xp[0], b = xp[1];
            v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
        } else {
#pragma unroll
            for (int i = 0; i < 8; i++) v[i] = 0.f;
        }
#pragma unroll
        for (int i = 0; i < 8; i++) xs[8 * part + i][loadRow] = v[i];
        __syncthreads();
#pragma unroll
        for (int k = 0; k < TILE_K; k++) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; i++) a[i] = ws[k][tx + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; j++) b[j] = xs[k][ty + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
        int t = tok0 + ty + 16 * j;
        if (t >= tokens) continue;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int r = row0 + tx + 16 * i;
            if (r < rows) y[(long long)t * rows + r] = acc[i][j];
        }
    }
}

// anvil_matmul_<type>, launched with grid (ceil(rows/64), ceil(tokens/64)) and 256 threads (CudaKernels.matmulGrid).
#define MATMUL_ENTRY(NAME, TYPE)                                                                                 \
    extern "C" __global__ void __launch_bounds__(256) anvil_matmul_##NAME(                                      \
            const uint8_t* w, long long rowBytes, const float* x, float* y, int rows, int cols, int tokens) {    \
        matmul<TYPE>(w, rowBytes, x, y, rows, cols, tokens);                                                     \
    }

MATMUL_ENTRY(f32, T_F32)
MATMUL_ENTRY(f16, T_F16)
MATMUL_ENTRY(bf16, T_BF16)
MATMUL_ENTRY(q8_0, T_Q8_0)
MATMUL_ENTRY(q4_0, T_Q4_0)
MATMUL_ENTRY(q4_k, T_Q4_K)
MATMUL_ENTRY(q5_k, T_Q5_K)
MATMUL_ENTRY(q6_k, T_Q6_K)
