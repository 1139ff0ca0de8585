package dev.anvil.engine.cuda;

/**
 * Grid and block shapes of the kernels, and which product kernel a batch size takes: the numbers each .cu file's
 * comment states (matvec: 4 warps, one per row, at most 8 tokens; matmul: 64x64 tiles of 256 threads; attention:
 * one block of 4 warps per token and head). Kept in one place so that a change of a kernel's tiling is one change
 * here, tested without a device.
 *
 * @param grid  blocks in x, y, z
 * @param block threads in x
 */
record LaunchGeometry(int gridX, int gridY, int block) {

    /** Tokens one matvec launch multiplies (MATVEC_TOKENS in matvec.cu). */
    static final int MATVEC_TOKENS = 8;

    static final int MATVEC_WARPS = 4, TILE = 64, ATTENTION_WARPS = 4, ROW_THREADS = 256, ELEMENT_THREADS = 256;

    /** Largest head size the attention kernel holds in registers (ATT_DIMS * 32). */
    static final int MAX_HEAD_SIZE = 256;

    /** Batches of at most this many tokens stream the weights once per 8 tokens (matvec); larger ones are tiled. */
    static boolean useMatvec(int tokens) {
        return tokens <= MATVEC_TOKENS;
    }

    static LaunchGeometry matvec(int rows) {
        return new LaunchGeometry(ceilDiv(rows, MATVEC_WARPS), 1, 32 * MATVEC_WARPS);
    }

    static LaunchGeometry matmul(int rows, int tokens) {
        return new LaunchGeometry(ceilDiv(rows, TILE), ceilDiv(tokens, TILE), 256);
    }

    /** One block per row (RMSNorm, embedding, RoPE, KV store, gather). */
    static LaunchGeometry perRow(int rows) {
        return new LaunchGeometry(rows, 1, ROW_THREADS);
    }

    /** One thread per element. */
    static LaunchGeometry elementwise(long n) {
        long blocks = (n + ELEMENT_THREADS - 1) / ELEMENT_THREADS;
        if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException(n + " elements in one launch");
        return new LaunchGeometry((int) blocks, 1, ELEMENT_THREADS);
    }

    static LaunchGeometry attention(int tokens, int heads) {
        return new LaunchGeometry(tokens, heads, 32 * ATTENTION_WARPS);
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
