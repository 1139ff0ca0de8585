package dev.anvil.engine;

/**
 * The KV cache pool has too few free blocks for a reservation. Checked on purpose: it is an expected,
 * recoverable event under load (the scheduler answers it by preempting or queueing a sequence), not a bug.
 * Nothing was allocated when it is thrown.
 */
public class KvCacheFullException extends Exception {
    private final int blocksNeeded;
    private final int blocksFree;

    public KvCacheFullException(int blocksNeeded, int blocksFree) {
        super("KV cache exhausted: need " + blocksNeeded + " more blocks, " + blocksFree + " free");
        this.blocksNeeded = blocksNeeded;
        this.blocksFree = blocksFree;
    }

    /** Additional blocks the failed reservation asked for. */
    public int blocksNeeded() {
        return blocksNeeded;
    }

    /** Free blocks at the time of the failure. */
    public int blocksFree() {
        return blocksFree;
    }
}
