package dev.anvil.gateway;

import jakarta.annotation.Resource;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.function.UnaryOperator;
import org.infinispan.Cache;

/**
 * Token buckets per API key (requests/minute, tokens/minute) and token counters per tenant budget period, in
 * WildFly's Infinispan cache {@code anvil/gateway-limits} (server-config profiles/caches-local.cli or clustered.cli): a local
 * cache on a single server, a distributed one when the server runs clustered, so every node draws from the
 * same buckets. Updates are compare-and-replace loops on text values ({@link TokenBucket#encode()}): atomic on
 * either cache mode, and no lambda or custom class has to be marshalled between nodes.
 */
@ApplicationScoped
public class RateLimiter {

    @Resource(lookup = "java:jboss/infinispan/cache/anvil/gateway-limits")
    Cache<String, String> cache;

    /** Takes one request from the key's requests/minute bucket; refused (nothing taken) when none is left. */
    public LimitDecision takeRequest(long keyId, long perMinute) {
        return take("rpm:" + keyId, perMinute, 1);
    }

    /**
     * Checks the key's tokens/minute bucket when a request arrives: refused while the bucket is empty or in debt.
     * A generation then reserves what it may use ({@link #reserveTokens}) and settles it when it ends
     * ({@link #settleTokens}).
     */
    public LimitDecision checkTokens(long keyId, long perMinute) {
        if (perMinute <= 0) {
            return LimitDecision.UNLIMITED;
        }
        long now = System.currentTimeMillis();
        String stored = cache.get("tpm:" + keyId);
        TokenBucket bucket = TokenBucket.stored(stored, perMinute, now);
        boolean allowed = bucket.level() >= 1;
        return new LimitDecision(
                allowed,
                perMinute,
                bucket.remaining(),
                bucket.millisUntilFull(perMinute),
                allowed ? 0 : bucket.millisUntil(1, perMinute));
    }

    /**
     * Reserves {@code tokens} of the key's tokens/minute bucket for a generation about to start: refused (nothing
     * taken) while the bucket is empty or in debt, otherwise taken at once even when it overdraws the bucket, so
     * that concurrent requests see the reservation and wait for the refill.
     */
    public LimitDecision reserveTokens(long keyId, long perMinute, long tokens) {
        if (perMinute <= 0) {
            return LimitDecision.UNLIMITED;
        }
        String key = "tpm:" + keyId;
        while (true) {
            long now = System.currentTimeMillis();
            String stored = cache.get(key);
            TokenBucket bucket = TokenBucket.stored(stored, perMinute, now);
            if (bucket.level() < 1) {
                return new LimitDecision(
                        false, perMinute, 0, bucket.millisUntilFull(perMinute), bucket.millisUntil(1, perMinute));
            }
            TokenBucket after = bucket.debit(Math.max(0, tokens));
            if (stored == null
                    ? cache.putIfAbsent(key, after.encode()) == null
                    : cache.replace(key, stored, after.encode())) {
                return new LimitDecision(true, perMinute, after.remaining(), after.millisUntilFull(perMinute), 0);
            }
        }
    }

    /**
     * Settles a generation against the key's tokens/minute bucket: {@code delta} = tokens used minus tokens reserved
     * at admission; positive is debited, negative credited back (never above the limit).
     */
    public void settleTokens(long keyId, long perMinute, long delta) {
        if (perMinute <= 0 || delta == 0) {
            return;
        }
        long now = System.currentTimeMillis();
        update("tpm:" + keyId, stored -> {
            TokenBucket bucket = TokenBucket.stored(stored, perMinute, now);
            return (delta > 0 ? bucket.debit(delta) : bucket.credit(-delta, perMinute)).encode();
        });
    }

    /** Tokens used by a tenant in the budget period starting {@code periodStart}, or null when this cache has no count yet. */
    public Long budgetUsed(String tenant, String periodStart) {
        String value = cache.get(budgetKey(tenant, periodStart));
        return value == null ? null : Long.parseLong(value);
    }

    /** Seeds the period's count (from the database) if no node did yet; returns the count in effect. */
    public long seedBudget(String tenant, String periodStart, long usedSoFar) {
        String previous = cache.putIfAbsent(budgetKey(tenant, periodStart), Long.toString(usedSoFar));
        return previous == null ? usedSoFar : Long.parseLong(previous);
    }

    /**
     * Reserves {@code tokens} of the tenant's period budget for a generation about to start, if the count (used
     * plus reserved by requests in progress) is still below {@code budget}; refused otherwise (nothing taken). The
     * count must have been seeded ({@link #seedBudget}).
     */
    public boolean reserveBudget(String tenant, String periodStart, long budget, long tokens) {
        String key = budgetKey(tenant, periodStart);
        while (true) {
            String stored = cache.get(key);
            long used = stored == null ? 0 : Long.parseLong(stored);
            if (used >= budget) {
                return false;
            }
            String next = Long.toString(used + Math.max(0, tokens));
            if (stored == null ? cache.putIfAbsent(key, next) == null : cache.replace(key, stored, next)) {
                return true;
            }
        }
    }

    /**
     * Adds {@code delta} to the tenant's period count: a finished request's tokens minus what it reserved (negative
     * gives back an unused reservation); the count never goes below zero.
     */
    public void addBudgetUse(String tenant, String periodStart, long delta) {
        if (delta == 0) {
            return;
        }
        update(
                budgetKey(tenant, periodStart),
                stored -> Long.toString(Math.max(0, (stored == null ? 0 : Long.parseLong(stored)) + delta)));
    }

    private static String budgetKey(String tenant, String periodStart) {
        return "budget:" + tenant + ":" + periodStart;
    }

    private LimitDecision take(String key, long perMinute, long amount) {
        if (perMinute <= 0) {
            return LimitDecision.UNLIMITED;
        }
        while (true) {
            long now = System.currentTimeMillis();
            String stored = cache.get(key);
            TokenBucket bucket = TokenBucket.stored(stored, perMinute, now);
            if (bucket.level() < amount) {
                return new LimitDecision(
                        false,
                        perMinute,
                        bucket.remaining(),
                        bucket.millisUntilFull(perMinute),
                        bucket.millisUntil(amount, perMinute));
            }
            TokenBucket after = bucket.debit(amount);
            if (stored == null
                    ? cache.putIfAbsent(key, after.encode()) == null
                    : cache.replace(key, stored, after.encode())) {
                return new LimitDecision(true, perMinute, after.remaining(), after.millisUntilFull(perMinute), 0);
            }
            // another caller changed the bucket between our read and write: read it again
        }
    }

    private void update(String key, UnaryOperator<String> change) {
        while (true) {
            String stored = cache.get(key);
            String next = change.apply(stored);
            if (stored == null ? cache.putIfAbsent(key, next) == null : cache.replace(key, stored, next)) {
                return;
            }
        }
    }
}
