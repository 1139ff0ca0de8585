package dev.anvil.it.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.HttpResult;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;

/**
 * {@code callers} requests released together against a requests-per-minute limit, and what such a burst must show:
 * the limit held (a bucket that refills at limit/minute lets at most that much more through during the burst), every
 * refusal a 429 saying when to retry and that nothing remains.
 */
public record RequestBurst(List<HttpResult> results, Instant began, Instant ended) {

    /** Sends {@code callers} requests at once; {@code caller.apply(i)} is what caller {@code i} sends. */
    public static RequestBurst send(int callers, IntFunction<Callable<HttpResult>> caller) throws Exception {
        CountDownLatch start = new CountDownLatch(1);
        List<HttpResult> results = new ArrayList<>();
        Instant began;
        try (ExecutorService pool = Executors.newFixedThreadPool(callers)) {
            List<Future<HttpResult>> futures = new ArrayList<>();
            for (int i = 0; i < callers; i++) {
                Callable<HttpResult> request = caller.apply(i);
                futures.add(pool.submit(() -> {
                    start.await();
                    return request.call();
                }));
            }
            began = Instant.now();
            start.countDown();
            for (Future<HttpResult> f : futures) results.add(f.get());
        }
        return new RequestBurst(results, began, Instant.now());
    }

    public List<HttpResult> passed() {
        return results.stream().filter(r -> r.status() == 200).toList();
    }

    public List<HttpResult> refused() {
        return results.stream().filter(r -> r.status() == 429).toList();
    }

    /**
     * Every request passed or was refused with 429; between {@code limit} and limit + the refill during the burst
     * passed ({@code where} says where the limit was held, for the message); every refusal carries Retry-After
     * (1 to 60 s) and no remaining requests.
     */
    public void assertLimitHeld(int limit, String where) {
        List<HttpResult> passed = passed(), refused = refused();
        assertEquals(results.size(), passed.size() + refused.size(), results::toString);
        long refill = Duration.between(began, ended).toMillis() * limit / 60_000;
        assertTrue(
                passed.size() >= limit && passed.size() <= limit + refill,
                "passed " + passed.size() + " of " + results.size() + where + " with a limit of " + limit
                        + "/min (refill during the burst: " + refill + ")");
        for (HttpResult r : refused) {
            long retryAfter = Long.parseLong(r.headers()
                    .firstValue("Retry-After")
                    .orElseThrow(() -> new AssertionError("429 without Retry-After: " + r)));
            assertTrue(retryAfter >= 1 && retryAfter <= 60, r::toString);
            assertEquals(
                    "0",
                    r.headers().firstValue("x-ratelimit-remaining-requests").orElse(""),
                    r::toString);
        }
    }
}
