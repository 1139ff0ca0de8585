package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class KvCachePoolTest {

    static final ModelConfig SHAPE = new ModelConfig("llama", 64, 172, 5, 8, 4, 512, 2048, 1e-5f, 10000f, 8, true);

    @Test
    void memoryIsTakenOnFirstUseAndReused() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, KvCachePool.bytesPerBlock(SHAPE) * 100);
        assertEquals(100, pool.totalBlocks());
        assertEquals(0, pool.allocatedBlocks(), "an unused pool holds no block memory");
        KvCachePool.Sequence a = pool.newSequence(), b = pool.newSequence();
        pool.reserve(a, 3 * KvCachePool.BLOCK_TOKENS);
        assertEquals(3, pool.allocatedBlocks());
        pool.free(a);
        pool.reserve(b, 2 * KvCachePool.BLOCK_TOKENS);
        assertEquals(3, pool.allocatedBlocks(), "freed blocks are reused before new memory is taken");
        pool.reserve(b, 5 * KvCachePool.BLOCK_TOKENS);
        assertEquals(5, pool.allocatedBlocks());
    }

    @Test
    void budgetDeterminesBlockCount() {
        long perBlock = KvCachePool.bytesPerBlock(SHAPE);
        assertEquals(5L * 2 * 16 * 32 * 4, perBlock);
        KvCachePool pool = new KvCachePool(SHAPE, perBlock * 10 + perBlock / 2);
        assertEquals(10, pool.totalBlocks());
        assertEquals(10, pool.freeBlocks());
        assertThrows(IllegalArgumentException.class, () -> new KvCachePool(SHAPE, perBlock - 1));
    }

    @Test
    void reserveGrowsByBlocksAndFreeReturnsThem() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, KvCachePool.bytesPerBlock(SHAPE) * 8);
        KvCachePool.Sequence a = pool.newSequence();
        pool.reserve(a, 1);
        assertEquals(1, a.blockCount());
        pool.reserve(a, 16);
        assertEquals(1, a.blockCount());
        pool.reserve(a, 17);
        assertEquals(2, a.blockCount());
        assertEquals(32, a.capacity());
        assertEquals(6, pool.freeBlocks());
        pool.free(a);
        pool.free(a); // idempotent
        assertEquals(8, pool.freeBlocks());
        assertTrue(a.isFreed());
        assertThrows(IllegalStateException.class, () -> pool.reserve(a, 1));
    }

    @Test
    void exhaustionIsCheckedAndAllOrNothing() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, KvCachePool.bytesPerBlock(SHAPE) * 4);
        KvCachePool.Sequence a = pool.newSequence(), b = pool.newSequence();
        pool.reserve(a, 40); // 3 blocks
        KvCacheFullException e = assertThrows(KvCacheFullException.class, () -> pool.reserve(b, 33));
        assertEquals(3, e.blocksNeeded());
        assertEquals(1, e.blocksFree());
        assertEquals(0, b.blockCount(), "a failed reservation takes nothing");
        assertEquals(1, pool.freeBlocks());
        pool.free(a); // preemption frees room
        pool.reserve(b, 33);
        assertEquals(3, b.blockCount());
        assertThrows(
                IllegalArgumentException.class,
                () -> pool.reserve(b, SHAPE.contextLength() + 1),
                "beyond context length");
    }

    @Test
    void truncateReleasesTailBlocks() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, KvCachePool.bytesPerBlock(SHAPE) * 4);
        KvCachePool.Sequence a = pool.newSequence();
        pool.reserve(a, 48);
        a.setLength(48);
        pool.truncate(a, 17);
        assertEquals(17, a.length());
        assertEquals(2, a.blockCount());
        assertEquals(2, pool.freeBlocks());
        assertThrows(IllegalArgumentException.class, () -> pool.truncate(a, 18));
    }

    @Test
    void randomChurnNeverLeaksOrDoubleAllocates() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, KvCachePool.bytesPerBlock(SHAPE) * 20);
        Random r = new Random(11);
        List<KvCachePool.Sequence> live = new ArrayList<>();
        int failures = 0;
        for (int i = 0; i < 5000; i++) {
            int op = r.nextInt(3);
            if (op == 0 || live.isEmpty()) {
                live.add(pool.newSequence());
            } else if (op == 1) {
                KvCachePool.Sequence s = live.get(r.nextInt(live.size()));
                try {
                    pool.reserve(s, s.capacity() + 1 + r.nextInt(40));
                } catch (KvCacheFullException full) {
                    failures++;
                }
            } else {
                pool.free(live.remove(r.nextInt(live.size()))); // finish or cancel
            }
            int owned = live.stream().mapToInt(KvCachePool.Sequence::blockCount).sum();
            assertEquals(pool.usedBlocks(), owned, "blocks owned by live sequences == used blocks");
        }
        assertTrue(failures > 0, "the churn must have hit exhaustion to test recovery");
        for (KvCachePool.Sequence s : live) pool.free(s);
        assertEquals(pool.totalBlocks(), pool.freeBlocks());
    }

    @Test
    void sequencesOfAnotherPoolAreRejected() {
        KvCachePool p1 = new KvCachePool(SHAPE, 1 << 20), p2 = new KvCachePool(SHAPE, 1 << 20);
        KvCachePool.Sequence s = p1.newSequence();
        assertThrows(IllegalArgumentException.class, () -> p2.reserve(s, 1));
        assertThrows(IllegalArgumentException.class, () -> p2.free(s));
    }

    // --- sliding-window layers --------------------------------------------------------------------

    /** Layers 0 and 2 attend to everything, layers 1, 3 and 4 to the last 32 positions (2 + 3 layers: 1-layer units). */
    static final int[] WINDOWS = {0, 32, 0, 32, 32};

    static final int W = 32;

    @Test
    void slidingLayersReleaseBlocksAsTheSequenceGrowsPastTheWindow() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, WINDOWS, KvCachePool.bytesPerBlock(SHAPE) * 100);
        assertEquals(500, pool.totalBlocks(), "units of one layer: five per 16 positions");
        assertEquals(KvCachePool.bytesPerBlock(SHAPE) / 5, pool.bytesPerUnit());
        assertEquals(0, pool.window(0));
        assertEquals(W, pool.window(4));
        KvCachePool.Sequence s = pool.newSequence();
        for (int length = 1; length <= 400; length++) {
            pool.reserve(s, length);
            s.setLength(length); // what a forward pass does once it wrote the new position
            int full = KvCachePool.blocksFor(length);
            int sliding = full - Math.max(0, length - W + 1) / KvCachePool.BLOCK_TOKENS;
            assertEquals(full, s.groupBlockCount(0), "full-attention layers keep every block, length " + length);
            assertEquals(full, s.groupBlockCount(2));
            assertEquals(sliding, s.groupBlockCount(1), "sliding layers keep their window, length " + length);
            assertTrue(sliding <= W / KvCachePool.BLOCK_TOKENS + 1, "at most ceil(W/16)+1 sliding blocks");
            // Everything the next token reads (length - W + 1 .. length) is held; no whole block below it is.
            int firstRead = Math.max(0, length - W + 1);
            assertTrue(s.firstHeldPosition(1) <= firstRead);
            assertTrue(s.firstHeldPosition(1) > firstRead - KvCachePool.BLOCK_TOKENS);
            assertEquals(2 * full + 3 * sliding, s.blockCount());
            assertEquals(s.blockCount(), pool.usedBlocks());
        }
        assertEquals(2 * 25 + 3 * 2, pool.usedBlocks(), "400 positions: 25 blocks per full layer, 2 per sliding one");
        assertTrue(pool.usedBlocks() < pool.blocksToHold(400), "less than the same length without release");
        pool.free(s);
        assertEquals(pool.totalBlocks(), pool.freeBlocks(), "freeing returns every group's blocks");
        assertEquals(0, s.blockCount());
    }

    @Test
    void slidingPoolCountsWhatAReservationTakes() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, WINDOWS, KvCachePool.bytesPerBlock(SHAPE) * 10);
        KvCachePool.Sequence s = pool.newSequence();
        assertEquals(15, pool.blocksToHold(33), "3 position blocks in 5 layers");
        assertEquals(15, pool.blocksNeeded(s, 33));
        pool.reserve(s, 16);
        assertEquals(10, pool.blocksNeeded(s, 33));
        assertEquals(0, pool.blocksNeeded(s, 16));
        pool.reserve(s, 33);
        assertEquals(15, s.blockCount());
        assertEquals(48, s.capacity());
        assertEquals(35, pool.freeBlocks());
    }

    @Test
    void slidingPoolExhaustionIsCheckedAndReleaseMakesRoom() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, WINDOWS, KvCachePool.bytesPerBlock(SHAPE) * 4);
        KvCachePool.Sequence a = pool.newSequence(), b = pool.newSequence();
        pool.reserve(a, 64); // 4 position blocks in every layer: the whole budget
        assertEquals(0, pool.freeBlocks());
        KvCacheFullException e = assertThrows(KvCacheFullException.class, () -> pool.reserve(b, 1));
        assertEquals(5, e.blocksNeeded());
        assertEquals(0, e.blocksFree());
        a.setLength(64); // positions 0..31 are outside every later window: 2 blocks of 3 sliding layers come back
        assertEquals(6, pool.freeBlocks());
        pool.reserve(b, 1);
        KvCacheFullException again = assertThrows(KvCacheFullException.class, () -> pool.reserve(b, 17));
        assertEquals(5, again.blocksNeeded());
        assertEquals(1, again.blocksFree());
        assertEquals(5, b.blockCount(), "a failed reservation takes nothing");
        assertEquals(16, b.capacity());
        pool.free(a);
        pool.free(b);
        assertEquals(pool.totalBlocks(), pool.freeBlocks());
        assertTrue(pool.allocatedBlocks() <= pool.totalBlocks());
    }

    @Test
    void truncatingBackIntoReleasedPositionsIsRefused() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, WINDOWS, KvCachePool.bytesPerBlock(SHAPE) * 10);
        KvCachePool.Sequence a = pool.newSequence();
        pool.reserve(a, 64);
        a.setLength(64); // blocks 0 and 1 (positions 0..31) released: a token at p reads p-31.., so p >= 63
        assertEquals(32, a.firstHeldPosition(1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pool.truncate(a, 62));
        assertTrue(e.getMessage().contains("63"), e.getMessage());
        assertEquals(64, a.length(), "a refused truncation changes nothing");
        pool.truncate(a, 63);
        assertEquals(63, a.length());
        assertEquals(2 * 4 + 3 * 2, a.blockCount());
        pool.truncate(a, 63);
        assertEquals(2 * 4 + 3 * 2, pool.usedBlocks());
    }

    @Test
    void slidingChurnNeverLeaksAndNeverHoldsMoreMemoryThanTheBudget() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, WINDOWS, KvCachePool.bytesPerBlock(SHAPE) * 20);
        Random r = new Random(5);
        List<KvCachePool.Sequence> live = new ArrayList<>();
        int failures = 0, releases = 0;
        for (int i = 0; i < 5000; i++) {
            int op = r.nextInt(4);
            if (op == 0 || live.isEmpty()) {
                live.add(pool.newSequence());
            } else if (op <= 2) {
                KvCachePool.Sequence s = live.get(r.nextInt(live.size()));
                int target = Math.min(SHAPE.contextLength(), s.length() + 1 + r.nextInt(op == 1 ? 3 : 40));
                try {
                    pool.reserve(s, target);
                    int before = pool.freeBlocks();
                    s.setLength(target);
                    if (pool.freeBlocks() > before) releases++;
                } catch (KvCacheFullException full) {
                    failures++;
                }
            } else {
                pool.free(live.remove(r.nextInt(live.size())));
            }
            int owned = live.stream().mapToInt(KvCachePool.Sequence::blockCount).sum();
            assertEquals(pool.usedBlocks(), owned, "units owned by live sequences == used units");
            assertTrue(pool.allocatedBlocks() <= pool.totalBlocks(), "block memory stays within the budget");
        }
        assertTrue(failures > 0, "the churn must have hit exhaustion to test recovery");
        assertTrue(releases > 0, "sliding layers released blocks during the churn");
        for (KvCachePool.Sequence s : live) pool.free(s);
        assertEquals(pool.totalBlocks(), pool.freeBlocks());
    }

    @Test
    void windowsAreValidatedAndAWindowCoveringTheContextIsFullAttention() throws Exception {
        long budget = KvCachePool.bytesPerBlock(SHAPE) * 10;
        assertThrows(IllegalArgumentException.class, () -> new KvCachePool(SHAPE, new int[4], budget));
        assertThrows(IllegalArgumentException.class, () -> new KvCachePool(SHAPE, new int[] {0, -1, 0, 0, 0}, budget));
        int ctx = SHAPE.contextLength();
        KvCachePool wide = new KvCachePool(SHAPE, new int[] {ctx, ctx, 0, ctx + 5, 0}, budget * 2);
        assertEquals(20, wide.totalBlocks(), "one group: whole-model blocks, as without windows");
        assertEquals(0, wide.window(0));
        KvCachePool.Sequence s = wide.newSequence();
        wide.reserve(s, 200);
        s.setLength(200);
        assertEquals(0, s.firstHeldPosition(1), "nothing is released");
        assertEquals(13, s.blockCount());
    }

    @Test
    void aHoldChargesOneChunkOfSlidingBlocksAndLetsTheChunkedPrefillFinishWhenThePoolIsDry() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, WINDOWS, KvCachePool.bytesPerBlock(SHAPE) * 40);
        int n = 300, chunk = 24;
        // 19 blocks in each of 2 full layers; a chunk of 24 reads at most (32+24-2)/16+2 = 5 blocks of a sliding layer.
        assertEquals(2 * 19 + 3 * 5, pool.blocksToHold(n, chunk));
        assertEquals(5 * 19, pool.blocksToHold(n), "at once: every block in every layer");
        KvCachePool.Sequence a = pool.newSequence(), b = pool.newSequence();
        pool.reserve(a, n, chunk);
        int charged = a.blockCount();
        assertEquals(pool.blocksToHold(n, chunk), charged);
        assertEquals(32, a.capacity(), "the sliding layers hold the blocks of the first chunk only");
        // Another sequence takes all but 2 of the free units: the prefill must still go through.
        pool.reserve(b, 29 * KvCachePool.BLOCK_TOKENS);
        assertEquals(2, pool.freeBlocks());
        Random r = new Random(2);
        int done = 0;
        while (done < n) {
            int end = Math.min(n, done + 1 + r.nextInt(chunk));
            pool.reserve(a, end); // never KvCacheFullException: the hold's own blocks are used
            assertTrue(a.capacity() >= end);
            assertTrue(a.firstHeldPosition(1) <= Math.max(0, done - W + 1), "what the chunk reads is held");
            assertTrue(a.groupBlockCount(1) <= 5);
            assertTrue(a.blockCount() <= charged, "never more than the hold charged");
            a.setLength(end);
            done = end;
            // Whatever the chunk released and the hold does not keep, another sequence grabs at once.
            while (pool.freeBlocks() >= 5) pool.reserve(b, b.capacity() + KvCachePool.BLOCK_TOKENS);
            assertEquals(pool.totalBlocks() - pool.freeBlocks(), a.blockCount() + b.blockCount());
        }
        // The hold is over: the blocks set aside for later chunks went back.
        assertEquals(2 * 19 + 3 * (19 - (n - W + 1) / KvCachePool.BLOCK_TOKENS), a.blockCount());
        assertEquals(pool.totalBlocks() - a.blockCount() - b.blockCount(), pool.freeBlocks());
        pool.free(a);
        pool.free(b);
        assertEquals(pool.totalBlocks(), pool.freeBlocks());
    }

    @Test
    void aHoldIsAllOrNothingAndFreeOrTruncateReturnItsCredit() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, WINDOWS, KvCachePool.bytesPerBlock(SHAPE) * 10);
        KvCachePool.Sequence a = pool.newSequence(), b = pool.newSequence();
        KvCacheFullException full = assertThrows(KvCacheFullException.class, () -> pool.reserve(a, 400, 16));
        assertEquals(2 * 25 + 3 * 4, full.blocksNeeded());
        assertEquals(0, a.blockCount(), "a failed hold takes nothing");
        assertEquals(50, pool.freeBlocks());
        pool.reserve(a, 160, 16); // 2 x 10 full + 3 x min(10, (32+16-2)/16+2 = 4) sliding
        assertEquals(20 + 12, a.blockCount());
        pool.reserve(a, 16);
        a.setLength(16);
        pool.reserve(a, 32);
        a.setLength(32);
        pool.truncate(a, 20);
        assertEquals(2 * 2 + 3 * 2, a.blockCount(), "truncation gives back the tail and the hold's credit");
        pool.reserve(b, 160, 16);
        pool.free(b);
        pool.free(a);
        assertEquals(pool.totalBlocks(), pool.freeBlocks());
        KvCachePool llama = new KvCachePool(SHAPE, KvCachePool.bytesPerBlock(SHAPE) * 10);
        assertEquals(
                llama.blocksToHold(100), llama.blocksToHold(100, 8), "without sliding layers a hold is everything");
    }
}
