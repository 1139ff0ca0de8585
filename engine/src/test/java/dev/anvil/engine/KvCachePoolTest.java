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
}
