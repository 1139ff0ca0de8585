package dev.anvil.gateway;

import java.util.Locale;

/**
 * One token bucket, as an immutable value: {@code capacity} tokens, refilled continuously at
 * {@code capacity} per minute. The state is stored as text ({@link #encode()}) so that any Infinispan
 * marshaller carries it between nodes, and updated by compare-and-replace ({@link RateLimiter}).
 *
 * <p>A bucket may go negative: a generation reserves what it may use at admission (prompt + max_tokens per
 * choice) while the bucket is not in debt, and a request that overdrew its bucket makes the following ones wait
 * until the refill has paid the debt; what the generation did not use is credited back when it ends.
 *
 * @param level       tokens available now (may be negative)
 * @param updatedAtMs wall-clock time (epoch ms) the level refers to; wall clock because nodes of a cluster share it
 */
public record TokenBucket(double level, long updatedAtMs) {

    private static final double MS_PER_MINUTE = 60_000.0;

    /** A full bucket of a limit. */
    public static TokenBucket full(long capacity, long nowMs) {
        return new TokenBucket(capacity, nowMs);
    }

    /** The bucket as it is at {@code nowMs}: refilled for the time passed, never above capacity. */
    public TokenBucket refill(long capacity, long nowMs) {
        long elapsed = Math.max(0, nowMs - updatedAtMs);
        double refilled = Math.min(capacity, level + elapsed * capacity / MS_PER_MINUTE);
        return new TokenBucket(Math.max(level, refilled), Math.max(nowMs, updatedAtMs));
    }

    /** Takes {@code amount} unconditionally (may go negative). */
    public TokenBucket debit(long amount) {
        return new TokenBucket(level - amount, updatedAtMs);
    }

    /** Gives back {@code amount} (a reservation larger than what was used), never above capacity. */
    public TokenBucket credit(long amount, long capacity) {
        return new TokenBucket(Math.max(level, Math.min(capacity, level + amount)), updatedAtMs);
    }

    /** Whole tokens available now (0 when in debt). */
    public long remaining() {
        return Math.max(0, (long) Math.floor(level));
    }

    /** Milliseconds until at least {@code amount} tokens are available again (0 if they are). */
    public long millisUntil(long amount, long capacity) {
        if (level >= amount) {
            return 0;
        }
        if (capacity <= 0) {
            return Long.MAX_VALUE;
        }
        return (long) Math.ceil((amount - level) * MS_PER_MINUTE / capacity);
    }

    /** Milliseconds until the bucket is full again. */
    public long millisUntilFull(long capacity) {
        return millisUntil(capacity, capacity);
    }

    public String encode() {
        return String.format(Locale.ROOT, "%.6f@%d", level, updatedAtMs);
    }

    /**
     * The bucket of a limit as it is at {@code nowMs}, from its stored form: a key with nothing stored yet (or whose
     * entry expired) has a full bucket.
     */
    public static TokenBucket stored(String encoded, long capacity, long nowMs) {
        return encoded == null ? full(capacity, nowMs) : decode(encoded).refill(capacity, nowMs);
    }

    public static TokenBucket decode(String text) {
        int at = text.indexOf('@');
        return new TokenBucket(Double.parseDouble(text.substring(0, at)), Long.parseLong(text.substring(at + 1)));
    }
}
