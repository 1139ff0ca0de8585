package dev.anvil.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class TokenBucketTest {

    @Test
    void aFullBucketRefillsAtCapacityPerMinuteAndNeverAboveCapacity() {
        TokenBucket bucket = TokenBucket.full(60, 1_000).debit(60);
        assertEquals(0, bucket.remaining());
        assertEquals(1, bucket.refill(60, 2_000).remaining(), "one token per second at 60/min");
        assertEquals(30, bucket.refill(60, 31_000).remaining());
        assertEquals(60, bucket.refill(60, 1_000_000).remaining(), "capped at capacity");
    }

    @Test
    void debtIsPaidByTheRefillBeforeTokensAreAvailableAgain() {
        TokenBucket bucket = TokenBucket.full(20, 0).debit(50); // a generation used 50 of 20/min
        assertEquals(0, bucket.remaining());
        assertEquals(-30, bucket.level(), 1e-9);
        assertEquals(93_000, bucket.millisUntil(1, 20), "31 tokens at 20/min: 93 s");
        assertEquals(0, bucket.refill(20, 90_000).remaining());
        assertEquals(1, bucket.refill(20, 93_000).remaining());
    }

    @Test
    void aClockGoingBackwardsNeitherAddsNorRemovesTokens() {
        TokenBucket bucket = new TokenBucket(5, 10_000);
        TokenBucket earlier = bucket.refill(10, 9_000);
        assertEquals(5, earlier.level(), 1e-9);
        assertEquals(10_000, earlier.updatedAtMs());
    }

    @Test
    void anUnusedReservationIsCreditedBackButNeverAboveCapacity() {
        TokenBucket reserved = TokenBucket.full(20, 0).debit(29); // prompt + max_tokens reserved at admission
        assertEquals(-9, reserved.level(), 1e-9);
        assertEquals(15, reserved.credit(24, 20).level(), 1e-9, "used 5 of the 29: 24 come back");
        assertEquals(20, reserved.credit(1_000, 20).level(), 1e-9, "a credit never fills the bucket above its limit");
        assertEquals(25, new TokenBucket(25, 0).credit(5, 20).level(), 1e-9, "a credit never lowers a bucket either");
    }

    @Test
    void resetAndRetryTimesAreRoundedUp() {
        TokenBucket bucket = new TokenBucket(0.5, 0);
        assertEquals(3_000, bucket.millisUntil(1, 10), "0.5 tokens at 10/min = 3 s");
        assertEquals(57_000, bucket.millisUntilFull(10));
        assertEquals(0, new TokenBucket(3, 0).millisUntil(1, 10));
        assertEquals(Long.MAX_VALUE, new TokenBucket(0, 0).millisUntil(1, 0));
    }

    @Test
    void encodingRoundTripsExactlyEnoughForCompareAndReplace() {
        TokenBucket bucket = new TokenBucket(-12.345678, 1_700_000_000_123L);
        TokenBucket decoded = TokenBucket.decode(bucket.encode());
        assertEquals(bucket.level(), decoded.level(), 1e-6);
        assertEquals(bucket.updatedAtMs(), decoded.updatedAtMs());
        assertEquals(bucket.encode(), decoded.encode());
    }

    /** The compare-and-replace loop RateLimiter runs, over a shared reference: no more than capacity passes. */
    @Test
    void compareAndReplaceAdmitsExactlyTheCapacityUnder32ConcurrentCallers() throws Exception {
        AtomicReference<String> cell = new AtomicReference<>();
        long now = 5_000; // a frozen clock: no refill during the burst
        int capacity = 10;
        AtomicInteger passed = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        try (ExecutorService pool = Executors.newFixedThreadPool(32)) {
            for (int i = 0; i < 32; i++) {
                pool.submit(() -> {
                    start.await();
                    while (true) {
                        String stored = cell.get();
                        TokenBucket b = stored == null
                                ? TokenBucket.full(capacity, now)
                                : TokenBucket.decode(stored).refill(capacity, now);
                        if (b.level() < 1) return null;
                        if (cell.compareAndSet(stored, b.debit(1).encode())) {
                            passed.incrementAndGet();
                            return null;
                        }
                    }
                });
            }
            start.countDown();
        }
        assertEquals(capacity, passed.get());
        assertTrue(TokenBucket.decode(cell.get()).level() < 1);
    }
}
