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
     * Checks the key's tokens/minute bucket before a generation: refused while the bucket is empty or in debt
     * (the tokens a request will use are not known until it finishes; {@link #debitTokens} settles them).
     */
    public LimitDecision checkTokens(long keyId, long perMinute) {
        if (perMinute <= 0) {
            return LimitDecision.UNLIMITED;
        }
        long now = System.currentTimeMillis();
        String stored = cache.get("tpm:" + keyId);
        TokenBucket bucket = stored == null ? TokenBucket.full(perMinute, now) : TokenBucket.decode(stored).refill(perMinute, now);
        boolean allowed = bucket.level() >= 1;
        return new LimitDecision(allowed, perMinute, bucket.remaining(), bucket.millisUntilFull(perMinute),
                allowed ? 0 : bucket.millisUntil(1, perMinute));
    }

    /** Settles the tokens a finished generation used against the key's tokens/minute bucket. */
    public void debitTokens(long keyId, long perMinute, long tokens) {
        if (perMinute <= 0 || tokens <= 0) {
            return;
        }
        long now = System.currentTimeMillis();
        update("tpm:" + keyId, stored -> (stored == null ? TokenBucket.full(perMinute, now)
                : TokenBucket.decode(stored).refill(perMinute, now)).debit(tokens).encode());
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

    /** Adds a finished request's tokens to the tenant's period count. */
    public void addBudgetUse(String tenant, String periodStart, long tokens) {
        update(budgetKey(tenant, periodStart), stored -> Long.toString((stored == null ? 0 : Long.parseLong(stored)) + tokens));
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
            TokenBucket bucket = stored == null ? TokenBucket.full(perMinute, now) : TokenBucket.decode(stored).refill(perMinute, now);
            if (bucket.level() < amount) {
                return new LimitDecision(false, perMinute, bucket.remaining(), bucket.millisUntilFull(perMinute),
                        bucket.millisUntil(amount, perMinute));
            }
            TokenBucket after = bucket.debit(amount);
            if (stored == null ? cache.putIfAbsent(key, after.encode()) == null : cache.replace(key, stored, after.encode())) {
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
