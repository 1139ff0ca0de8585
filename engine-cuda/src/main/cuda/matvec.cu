// Decode: y[t][r] = W[r] . x[t] for up to MATVEC_TOKENS activation rows, W in its GGUF encoding.
//
// Decode is bound by the bandwidth of streaming the weights, so each weight is read once per launch and used for
// every token of the launch: one warp per output row, each lane decoding 8 weights at a time (decode8) and
// multiplying them with all tokens' activations, accumulating in fp32 registers, then one warp reduction per
// token. Lanes take consecutive 8-weight units, so a warp reads one contiguous stretch of the row per step. Larger
// batches go through the tiled matmul (matmul.cu), where weights are reused across a tile of tokens from shared
// memory. Activations stay fp32 (llama.cpp's CPU path rounds them to int8 blocks first; the GPU does not, which is
// why GPU-vs-CPU agreement is checked with a tolerance rather than bit for bit).
#include "anvil.cuh"

#define MATVEC_TOKENS 8
#define MATVEC_WARPS 4

template <int TYPE>
__device__ __forceinline__ void matvec(
        const uint8_t* __restrict__ w, long long rowBytes, const float* __restrict__ x, float* __restrict__ y,
        int rows, int cols, int tokens) {
    int row = blockIdx.x * MATVEC_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= rows) return;
    const uint8_t* wr = w + (long long)row * rowBytes;
    float acc[MATVEC_TOKENS];
#pragma unroll
    for (int t = 0; t < MATVEC_TOKENS; t++) acc[t] = 0.f;
    int units = cols >> 3;
    for (int g = lane; g < units; g += 32) {
        float v[8];
        decode8<TYPE>(wr, g, v);
#pragma unroll
        for (int t = 0; t < MATVEC_TOKENS; t++) {
            if (t < tokens) {
                const float4* xp = reinterpret_cast<const float4*>(x + (long long)t * cols + 8 * g);
                float4 a = xp[0], b = xp[1];
                acc[t] += v[0] * a.x + v[1] * a.y + v[2] * a.z + v[3] * a.w + v[4] * b.x + v[5] * b.y + v[6] * b.z
                        + v[7] * b.w;
            }
        }
    }
#pragma unroll
    for (int t = 0; t < MATVEC_TOKENS; t++) {
        if (t < tokens) {
            float s = warp_sum(acc[t]);
            if (lane == 0) y[(long long)t * rows + row] = s;
        }
    }
}

// One entry point per encoding, named by the host (CudaKernels.matvecName): anvil_matvec_<type>.
#define MATVEC_ENTRY(NAME, TYPE)                                                                                 \
    extern "C" __global__ void __launch_bounds__(32 * MATVEC_WARPS) anvil_matvec_##NAME(                        \
            const uint8_t* w, long long rowBytes, const float* x, float* y, int rows, int cols, int tokens) {    \
        matvec<TYPE>(w, rowBytes, x, y, rows, cols, tokens);                                                     \
    }

MATVEC_ENTRY(f32, T_F32)
MATVEC_ENTRY(f16, T_F16)
MATVEC_ENTRY(bf16, T_BF16)
MATVEC_ENTRY(q8_0, T_Q8_0)
MATVEC_ENTRY(q4_0, T_Q4_0)
MATVEC_ENTRY(q4_k, T_Q4_K)
MATVEC_ENTRY(q5_k, T_Q5_K)
MATVEC_ENTRY(q6_k, T_Q6_K)

// Rows of the token embedding: out[t] = scale * E[tokens[t]], decoded from the table's encoding (one block per token).
template <int TYPE>
__device__ __forceinline__ void embed(
        const uint8_t* __restrict__ e, long long rowBytes, const int* __restrict__ tokens, float* __restrict__ out,
        int cols, float scale) {
    int t = blockIdx.x;
    const uint8_t* row = e + (long long)tokens[t] * rowBytes;
    for (int g = threadIdx.x; g < (cols >> 3); g += blockDim.x) {
        float v[8];
        decode8<TYPE>(row, g, v);
#pragma unroll
        for (int i = 0; i < 8; i++) out[(long long)t * cols + 8 * g + i] = v[i] * scale;
    }
}

#define EMBED_ENTRY(NAME, TYPE)                                                                                  \
    extern "C" __global__ void anvil_embed_##NAME(                                                              \
            const uint8_t* e, long long rowBytes, const int* tokens, float* out, int cols, float scale) {        \
        embed<TYPE>(e, rowBytes, tokens, out, cols, scale);                                                      \
    }

EMBED_ENTRY(f32, T_F32)
EMBED_ENTRY(f16, T_F16)
EMBED_ENTRY(bf16, T_BF16)
EMBED_ENTRY(q8_0, T_Q8_0)
EMBED_ENTRY(q4_0, T_Q4_0)
EMBED_ENTRY(q4_k, T_Q4_K)
EMBED_ENTRY(q5_k, T_Q5_K)
EMBED_ENTRY(q6_k, T_Q6_K)
