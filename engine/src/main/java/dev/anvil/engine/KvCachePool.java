package dev.anvil.engine;

import java.util.Arrays;

/**
 * Paged key/value cache for continuous batching (the vLLM "PagedAttention" layout). Memory is a pool of
 * fixed-size blocks; a block holds keys and values of {@link #BLOCK_TOKENS} consecutive positions of one
 * sequence for every layer. Each {@link Sequence} owns a block table (position {@code p} lives in block
 * {@code table[p / BLOCK_TOKENS]}), grows one block at a time through {@link #reserve} and gives everything
 * back with {@link #free}. Running out of blocks is a checked {@link KvCacheFullException}, never an
 * allocation failure, so a scheduler can preempt a sequence and retry.
 *
 * <p>Storage choice: one {@code float[]} per block, allocated when the pool is built so the byte budget is
 * real from the start. Float32 because the attention kernels read it with {@code FloatVector.fromArray},
 * the fastest load the Vector API has; this JDK's Vector API has no half-to-float lane conversion, so an
 * F16 cache would have to be widened with scalar code on every attention step. (The forward pass rounds
 * the values it stores to fp16 precision, matching llama.cpp's default F16 cache; a {@code short[]} store
 * would hold them exactly in half the memory at the price of that scalar widening — not measured yet.) Heap arrays rather than an
 * off-heap segment because array access needs no segment liveness checks in the hot loop and primitive
 * arrays cost the garbage collector nothing to scan; the server sizes its heap for the budget.
 *
 * <p>Layout inside a block: {@code [layer][k=0|v=1][slot][kvDim]}. Thread-safe: reservations and frees
 * may come from any thread; the forward pass only reads/writes blocks a sequence already owns.
 */
public final class KvCachePool {

    /** Token positions per block. */
    public static final int BLOCK_TOKENS = 16;

    private final ModelConfig config;
    private final int kvDim;
    private final int blockFloats;
    private final float[][] blocks;
    private final int[] freeStack;
    private int freeCount;
    /** Blocks whose memory has been allocated (they stay allocated once used). */
    private int allocated;

    /**
     * A pool of as many blocks as fit in {@code byteBudget} (at least one) for a model of shape {@code config}; the
     * memory of a block is taken when it is first used.
     */
    public KvCachePool(ModelConfig config, long byteBudget) {
        this.config = config;
        this.kvDim = config.kvDim();
        long floats = (long) config.layers() * 2 * BLOCK_TOKENS * kvDim;
        if (floats > Integer.MAX_VALUE - 16)
            throw new IllegalArgumentException("KV block too large for model " + config);
        this.blockFloats = (int) floats;
        long count = byteBudget / bytesPerBlock(config);
        if (count < 1) {
            throw new IllegalArgumentException("KV cache budget of " + byteBudget + " bytes is smaller than one block ("
                    + bytesPerBlock(config) + " bytes)");
        }
        if (count > Integer.MAX_VALUE / 2)
            throw new IllegalArgumentException("KV cache budget too large: " + byteBudget);
        // Blocks are allocated when first handed out (lowest ids first, freed ones reused first), so a pool only
        // takes the memory its busiest moment needed: many loaded versions need not each hold their whole budget.
        this.blocks = new float[(int) count][];
        this.freeStack = new int[(int) count];
        for (int i = 0; i < count; i++) freeStack[i] = (int) count - 1 - i;
        this.freeCount = (int) count;
    }

    /** Bytes one block takes for a model of this shape. */
    public static long bytesPerBlock(ModelConfig config) {
        return (long) config.layers() * 2 * BLOCK_TOKENS * config.kvDim() * Float.BYTES;
    }

    public ModelConfig config() {
        return config;
    }

    public int totalBlocks() {
        return blocks.length;
    }

    public synchronized int freeBlocks() {
        return freeCount;
    }

    public synchronized int usedBlocks() {
        return blocks.length - freeCount;
    }
    /** Blocks whose memory is allocated: the most ever in use at once (memory is taken on first use, then kept). */
    public synchronized int allocatedBlocks() {
        return allocated;
    }

    /** Blocks needed to hold {@code tokens} positions. */
    public static int blocksFor(int tokens) {
        return (tokens + BLOCK_TOKENS - 1) / BLOCK_TOKENS;
    }

    /** A new, empty sequence (no blocks until {@link #reserve}). */
    public Sequence newSequence() {
        return new Sequence(this);
    }

    /**
     * Makes sure {@code seq} can hold positions {@code [0, length)}. All-or-nothing: on failure no block was
     * taken. Also fails (with {@link IllegalArgumentException}) beyond the model's context length.
     */
    public synchronized void reserve(Sequence seq, int length) throws KvCacheFullException {
        checkOwner(seq);
        if (seq.freed) throw new IllegalStateException("sequence was freed");
        if (length > config.contextLength()) {
            throw new IllegalArgumentException(
                    "sequence length " + length + " exceeds the context length " + config.contextLength());
        }
        int need = blocksFor(length) - seq.blockCount;
        if (need <= 0) return;
        if (need > freeCount) throw new KvCacheFullException(need, freeCount);
        if (seq.table.length < seq.blockCount + need)
            seq.table = Arrays.copyOf(seq.table, Math.max(seq.blockCount + need, seq.table.length * 2));
        for (int i = 0; i < need; i++) {
            int id = freeStack[--freeCount];
            if (blocks[id] == null) {
                blocks[id] = new float[blockFloats];
                allocated++;
            }
            seq.table[seq.blockCount++] = id;
        }
    }

    /** Returns all blocks of {@code seq} to the pool; idempotent. The sequence cannot be used afterwards. */
    public synchronized void free(Sequence seq) {
        checkOwner(seq);
        releaseFrom(seq, 0);
        seq.length = 0;
        seq.freed = true;
    }

    /**
     * Forgets positions {@code >= length} and returns the blocks no longer needed (for rolling back a
     * speculative or aborted chunk, or recomputing after preemption).
     */
    public synchronized void truncate(Sequence seq, int length) {
        checkOwner(seq);
        if (length < 0 || length > seq.length)
            throw new IllegalArgumentException("cannot truncate length " + seq.length + " to " + length);
        seq.length = length;
        releaseFrom(seq, blocksFor(length));
    }

    private void releaseFrom(Sequence seq, int keep) {
        while (seq.blockCount > keep) freeStack[freeCount++] = seq.table[--seq.blockCount];
    }

    private void checkOwner(Sequence seq) {
        if (seq.pool != this) throw new IllegalArgumentException("sequence belongs to another KV cache pool");
    }

    // --- access for the forward pass --------------------------------------------------------------

    float[] block(int id) {
        return blocks[id];
    }

    /** Offset of the key (kOrV=0) or value (1) vector of slot {@code slot} of layer {@code layer} inside a block. */
    int offset(int layer, int kOrV, int slot) {
        return ((layer * 2 + kOrV) * BLOCK_TOKENS + slot) * kvDim;
    }

    /**
     * The KV state of one sequence: its block table and the number of positions written. Handles are created
     * by {@link KvCachePool#newSequence()} and must be {@linkplain KvCachePool#free freed} when the request
     * finishes or is cancelled.
     */
    public static final class Sequence {
        private final KvCachePool pool;
        private int[] table = new int[4];
        private int blockCount;
        private int length;
        private boolean freed;

        private Sequence(KvCachePool pool) {
            this.pool = pool;
        }

        /** Positions written so far by forward passes (the next token goes at this position). */
        public int length() {
            synchronized (pool) {
                return length;
            }
        }

        /** Positions the reserved blocks can hold. */
        public int capacity() {
            synchronized (pool) {
                return blockCount * BLOCK_TOKENS;
            }
        }

        /** Blocks currently owned. */
        public int blockCount() {
            synchronized (pool) {
                return blockCount;
            }
        }

        public boolean isFreed() {
            synchronized (pool) {
                return freed;
            }
        }

        public KvCachePool pool() {
            return pool;
        }

        // Forward-pass internals: called with the table stable (the scheduler does not reserve or free a
        // sequence while it is part of a running batch).
        int blockId(int position) {
            return table[position / BLOCK_TOKENS];
        }

        int lengthUnsafe() {
            return length;
        }

        int capacityUnsafe() {
            return blockCount * BLOCK_TOKENS;
        }

        boolean freedUnsafe() {
            return freed;
        }

        void setLength(int newLength) {
            synchronized (pool) {
                length = newLength;
            }
        }
    }
}
