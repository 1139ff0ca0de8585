// Attention over the paged KV cache for any mix of prefill chunks and decode tokens in one launch.
//
// One block per (token, query head): token t of the batch attends to positions [first, pos[t]] of its own
// sequence, first = 0 for full attention and pos[t] - window + 1 in a sliding-window layer, so causality, chunked
// prefill and decode are the same case. GQA: query head h reads kv head h / (heads / kvHeads). The sequence's block
// table for this layer's group starts at tables[tableStart[t]]; position p lives in block tables[.. + p/16], slot
// p % 16, laid out as KvCachePool lays its blocks out ([layer of group][k|v][slot][kvDim], fp16 here).
//
// Four warps split the positions (p = first + warp, + 4, ...); each keeps an online softmax (running max, sum and
// fp32 weighted sum of values, lane i holding dims i, i+32, ...), and the four partial results are merged at the
// end. q is scaled by queryScale and rounded to fp16 as llama.cpp and LlamaModel do before the dot with fp16 keys;
// scores are scaled by scoreScale and soft-capped (Gemma 2) when softcap > 0. Head sizes up to 256.
#include "anvil.cuh"

#define ATT_WARPS 4
#define ATT_DIMS 8 // per lane: head size / 32, at most 256 / 32

extern "C" __global__ void __launch_bounds__(32 * ATT_WARPS) anvil_attention(
        const float* __restrict__ q, float* __restrict__ out, const __half* __restrict__ arena,
        const int* __restrict__ tables, const int* __restrict__ tableStart, const int* __restrict__ pos, int heads,
        int kvHeads, int hs, int kvDim, int layerSlot, long long blockHalfs, int window, float queryScale,
        float scoreScale, float softcap) {
    __shared__ float sm[ATT_WARPS], sl[ATT_WARPS], sacc[ATT_WARPS][32 * ATT_DIMS];
    int t = blockIdx.x, h = blockIdx.y, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int kvh = h / (heads / kvHeads), last = pos[t], first = window == 0 ? 0 : max(0, last - window + 1);
    const float* qh = q + ((long long)t * heads + h) * hs;
    float qr[ATT_DIMS], acc[ATT_DIMS];
#pragma unroll
    for (int i = 0; i < ATT_DIMS; i++) {
        int d = lane + 32 * i;
        qr[i] = d < hs ? __half2float(__float2half_rn(qh[d] * queryScale)) : 0.f;
        acc[i] = 0.f;
    }
    const int* table = tables + tableStart[t];
    long long kOff = ((long long)(layerSlot * 2) * 16) * kvDim + kvh * hs;
    long long vOff = ((long long)(layerSlot * 2 + 1) * 16) * kvDim + kvh * hs;
    float m = -INFINITY, l = 0.f;
    for (int p = first + warp; p <= last; p += ATT_WARPS) {
        const __half* blk = arena + (long long)table[p >> 4] * blockHalfs + (long long)(p & 15) * kvDim;
        float dot = 0.f;
#pragma unroll
        for (int i = 0; i < ATT_DIMS; i++) {
            int d = lane + 32 * i;
            if (d < hs) dot += qr[i] * __half2float(blk[kOff + d]);
        }
        dot = warp_sum(dot);
        float s = softcap > 0.f ? softcap * tanhf(dot * scoreScale / softcap) : dot * scoreScale;
        float mNew = fmaxf(m, s), shrink = __expf(m - mNew), wgt = __expf(s - mNew);
        l = l * shrink + wgt;
#pragma unroll
        for (int i = 0; i < ATT_DIMS; i++) {
            int d = lane + 32 * i;
            float vv = d < hs ? __half2float(blk[vOff + d]) : 0.f;
            acc[i] = acc[i] * shrink + wgt * vv;
        }
        m = mNew;
    }
    if (lane == 0) {
        sm[warp] = m;
        sl[warp] = l;
    }
#pragma unroll
    for (int i = 0; i < ATT_DIMS; i++) sacc[warp][lane + 32 * i] = acc[i];
    __syncthreads();
    float mAll = -INFINITY;
#pragma unroll
    for (int w = 0; w < ATT_WARPS; w++) mAll = fmaxf(mAll, sm[w]);
    float denom = 0.f, f[ATT_WARPS];
#pragma unroll
    for (int w = 0; w < ATT_WARPS; w++) {
        f[w] = sl[w] == 0.f ? 0.f : __expf(sm[w] - mAll); // a warp that saw no position contributes nothing
        denom += sl[w] * f[w];
    }
    float* o = out + ((long long)t * heads + h) * hs;
    for (int d = threadIdx.x; d < hs; d += blockDim.x) {
        float s = 0.f;
#pragma unroll
        for (int w = 0; w < ATT_WARPS; w++) s += sacc[w][d] * f[w];
        o[d] = s / denom;
    }
}
