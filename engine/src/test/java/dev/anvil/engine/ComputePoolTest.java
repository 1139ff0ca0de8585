package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ComputePoolTest {

    @Test
    void everyIndexRunsExactlyOnceAcrossManyLoops() {
        AtomicInteger created = new AtomicInteger();
        ThreadFactory counting = r -> {
            created.incrementAndGet();
            Thread t = new Thread(r, "test-compute");
            t.setDaemon(true);
            return t;
        };
        try (ComputePool pool = new ComputePool(3, counting)) {
            assertEquals(2, created.get(), "the caller is the third worker");
            for (int loop = 0; loop < 2000; loop++) {
                int n = 1 + loop % 97;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                AtomicInteger badWorker = new AtomicInteger();
                pool.parallelFor(n, 1, (a, b, w) -> {
                    if (w < 0 || w >= 3) badWorker.incrementAndGet();
                    for (int i = a; i < b; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "loop " + loop + " index " + i);
                assertEquals(0, badWorker.get());
            }
        }
    }

    @Test
    void failuresPropagateToTheCaller() {
        try (ComputePool pool = new ComputePool(2, ComputePool.defaultFactory())) {
            IllegalStateException boom = new IllegalStateException("boom");
            IllegalStateException thrown = assertThrows(
                    IllegalStateException.class,
                    () -> pool.parallelFor(100, 1, (a, b, w) -> {
                        if (a <= 50 && 50 < b) throw boom;
                    }));
            assertSame(boom, thrown);
            AtomicInteger sum = new AtomicInteger();
            pool.parallelFor(100, 1, (a, b, w) -> sum.addAndGet(b - a));
            assertEquals(100, sum.get(), "the pool keeps working after a failed loop");
        }
    }

    @Test
    void refusingFactoryAndClosedPoolAreReported() {
        assertThrows(IllegalStateException.class, () -> new ComputePool(2, r -> null));
        ComputePool pool = new ComputePool(2, ComputePool.defaultFactory());
        pool.close();
        assertThrows(IllegalStateException.class, () -> pool.parallelFor(1000, 1, (a, b, w) -> {}));
        assertTrue(pool.size() == 2);
    }

    @Test
    void chunksAreGuidedLongRunsFirstShortOnesLast() {
        try (ComputePool pool = new ComputePool(2, ComputePool.defaultFactory())) {
            for (int loop = 0; loop < 200; loop++) {
                java.util.List<int[]> chunks = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
                pool.parallelFor(64, 1, (a, b, w) -> chunks.add(new int[] {a, b}));
                java.util.List<int[]> byStart = new java.util.ArrayList<>(chunks);
                byStart.sort(java.util.Comparator.comparingInt(c -> c[0]));
                int expectedStart = 0;
                for (int[] c : byStart) {
                    assertEquals(expectedStart, c[0], "chunks tile the range in claim order");
                    int left = 64 - c[0];
                    assertEquals(Math.max(1, (left + 1) / 2), c[1] - c[0], "each claim takes half of what is left");
                    expectedStart = c[1];
                }
                assertEquals(64, expectedStart);
                assertEquals(32, byStart.get(0)[1], "the first claim is a contiguous half");

                java.util.List<int[]> coarse = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
                pool.parallelFor(64, 20, (a, b, w) -> coarse.add(new int[] {a, b}));
                for (int[] c : coarse)
                    assertTrue(c[1] - c[0] >= 20 || c[1] == 64, "at least the minimum chunk except the tail");
            }
        }
    }
}
