package dev.anvil.it;

import java.time.Duration;
import java.time.Instant;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Waits for what the server does a moment after it answers (usage and audit rows written in batches about every
 * second, a version loading in the background, a database coming back): re-reads until the answer satisfies a
 * condition or a deadline passes, and returns the last answer for the caller to assert on.
 */
public final class Eventually {

    /** How often a condition is re-read. */
    private static final Duration POLL = Duration.ofMillis(250);

    private Eventually() {}

    public static HttpResult until(Supplier<HttpResult> read, Predicate<HttpResult> done, Duration timeout) {
        return value(read, done, timeout);
    }

    /** {@link #until} for anything read (not only an HTTP answer): the last value read, done or not. */
    public static <T> T value(Supplier<T> read, Predicate<T> done, Duration timeout) {
        Instant deadline = Instant.now().plus(timeout);
        T last = read.get();
        while (!done.test(last) && Instant.now().isBefore(deadline)) {
            try {
                Thread.sleep(POLL); // poll interval of a deadline-bounded wait
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            last = read.get();
        }
        return last;
    }
}
