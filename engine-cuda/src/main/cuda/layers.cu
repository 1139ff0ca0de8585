// The element-wise and per-row stages of a transformer block, each the GPU form of the LlamaModel step of the same
// name: RMSNorm, bias rows, RoPE (both pairings), the fp16 write of keys and values into the paged cache, the
// gated activations, the residual add and the logit soft-cap. All activations are fp32 rows of one batch,
// token-major ([token][features]), as on the CPU.
#include "anvil.cuh"

// out[r] = x[r] / rms(x[r]) * w for each of gridDim.x rows of n (in place when out == x). The sum of squares is
// taken in double, as ggml and LlamaModel.rmsNorm do, so the scale matches the CPU to the last bit more often.
extern "C" __global__ void anvil_rmsnorm(const float* x, const float* w, float* out, int n, float eps) {
    __shared__ double part[32];
    const float* xr = x + (long long)blockIdx.x * n;
    float* orow = out + (long long)blockIdx.x * n;
    double s = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += (double)xr[i] * xr[i];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x < 32) {
        double t = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : 0.0;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) t += __shfl_xor_sync(0xffffffffu, t, o);
        if (threadIdx.x == 0) part[0] = t;
    }
    __syncthreads();
    float scale = 1.f / sqrtf((float)(part[0] / n) + eps);
    for (int i = threadIdx.x; i < n; i += blockDim.x) orow[i] = xr[i] * scale * w[i];
}

// x[i] += bias[i % n] over `total` elements (Q/K/V biases of Qwen 2).
extern "C" __global__ void anvil_add_bias(float* x, const float* bias, int n, long long total) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < total) x[i] += bias[i % n];
}

// RoPE on `heads` heads of each token's row (width heads*hs): pair i of the first ropeDim dims of a head turns by
// pos[t] * freq[i] (freq: the layer's table, with RoPE scaling and rope_freqs already applied by the host). NORM
// pairs (2i, 2i+1), NEOX pairs (i, i + ropeDim/2). Angles and their cos/sin in double, then rounded to float, as
// LlamaModel computes its tables. Grid: one block per token.
extern "C" __global__ void anvil_rope(
        float* v, const int* pos, const double* freq, int heads, int hs, int ropeDim, int neox) {
    int t = blockIdx.x, pairs = ropeDim >> 1;
    float* row = v + (long long)t * heads * hs;
    for (int k = threadIdx.x; k < heads * pairs; k += blockDim.x) {
        int h = k / pairs, i = k % pairs;
        double angle = (double)pos[t] * freq[i];
        float co = (float)cos(angle), si = (float)sin(angle);
        int a = h * hs + (neox ? i : 2 * i), b = a + (neox ? pairs : 1);
        float v0 = row[a], v1 = row[b];
        row[a] = v0 * co - v1 * si;
        row[b] = v0 * si + v1 * co;
    }
}

// Appends each token's key and value (kvDim floats each) to the paged cache as fp16, where KvCachePool keeps them:
// block blockOf[t] of the layer's group, slot pos[t] % 16, at ((layerSlot*2 + k|v) * 16 + slot) * kvDim inside a
// block of blockHalfs halves. Grid: one block per token.
extern "C" __global__ void anvil_kv_store(
        const float* k, const float* v, __half* arena, const int* blockOf, const int* pos, int kvDim, int layerSlot,
        long long blockHalfs) {
    int t = blockIdx.x, slot = pos[t] & 15;
    __half* base = arena + (long long)blockOf[t] * blockHalfs;
    __half* kd = base + ((long long)(layerSlot * 2) * 16 + slot) * kvDim;
    __half* vd = base + ((long long)(layerSlot * 2 + 1) * 16 + slot) * kvDim;
    for (int i = threadIdx.x; i < kvDim; i += blockDim.x) {
        kd[i] = __float2half_rn(k[(long long)t * kvDim + i]);
        vd[i] = __float2half_rn(v[(long long)t * kvDim + i]);
    }
}

// gate[i] = act(gate[i]) * up[i]: SiLU (SwiGLU) or the tanh approximation of GELU (GeGLU, Gemma). The CPU rounds
// GELU through ggml's fp16 table; here it is evaluated in fp32 (a stated difference within the GPU tolerance).
extern "C" __global__ void anvil_gate(float* gate, const float* up, long long n, int gelu) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = gate[i];
    float a;
    if (gelu) {
        a = g <= -10.f ? 0.f : g >= 10.f ? g : 0.5f * g * (1.f + tanhf(0.7978845608028654f * g * (1.f + 0.044715f * g * g)));
    } else {
        a = g / (1.f + expf(-g));
    }
    gate[i] = a * up[i];
}

// x[i] += y[i]: the residual stream.
extern "C" __global__ void anvil_add(float* x, const float* y, long long n) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n) x[i] += y[i];
}

// v[i] = cap * tanh(v[i] / cap): Gemma 2's soft bound on the output logits.
extern "C" __global__ void anvil_softcap(float* v, long long n, float cap) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n) v[i] = cap * tanhf(v[i] / cap);
}

// out[r] = x[rows[r]] (n floats each): the residual rows whose logits are wanted, gathered before the classifier.
extern "C" __global__ void anvil_gather_rows(const float* x, const int* rows, float* out, int n) {
    const float* src = x + (long long)rows[blockIdx.x] * n;
    float* dst = out + (long long)blockIdx.x * n;
    for (int i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}
