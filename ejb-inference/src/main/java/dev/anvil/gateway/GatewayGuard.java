package dev.anvil.gateway;

import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The per-request gateway rules: when a request arrives, a key's requests/minute and tokens/minute buckets and its
 * tenant's token budget ({@link #admit}); once a generation's prompt is tokenized, a slot of the key's concurrent
 * requests ({@link #enter}) and a reservation of what it may use, prompt + max_tokens per choice, against the
 * tokens/minute bucket and the budget ({@link #reserve}); after the generation, the difference between what it
 * used and what it reserved is settled and its usage row queued ({@link #settle}), and an unused reservation is
 * given back ({@link #refund}). Buckets and budget counts live in {@link RateLimiter}'s Infinispan cache (shared
 * by a cluster); rows go to {@link GatewayLedger}.
 *
 * <p>Concurrent requests are counted per server node, in memory: a count in the shared cache would outlive a node
 * that dies with requests in progress and lock its keys out until the entry expired, while a per-node count goes
 * with the node. On a cluster of N nodes a key may therefore have up to N times its limit in progress.
 */
@ApplicationScoped
public class GatewayGuard {

    @Inject
    RateLimiter limiter;

    @Inject
    GatewayConfig config;

    @Inject
    GatewayMetrics metrics;

    @EJB
    UsageReport report;

    @EJB
    GatewayLedger ledger;

    /** Requests in progress per key on this node. */
    private final ConcurrentHashMap<Long, AtomicInteger> inProgress = new ConcurrentHashMap<>();

    /** Why a request is refused before it runs, or {@link Refusal#NONE}. */
    public enum Refusal {
        NONE,
        REQUESTS_PER_MINUTE,
        TOKENS_PER_MINUTE,
        BUDGET
    }

    /**
     * The decision for one request, with what the {@code x-ratelimit-*} headers show.
     *
     * @param budgetLeft tokens left in the tenant's period; -1 = no budget
     */
    public record Admission(
            Refusal refusal, LimitDecision requests, LimitDecision tokens, long budgetLeft, Instant budgetResetsAt) {
        public boolean admitted() {
            return refusal == Refusal.NONE;
        }
    }

    /**
     * What a generation reserved at admission (nothing for an anonymous caller or a refused one).
     *
     * @param tokensPerMinute tokens taken from the key's tokens/minute bucket
     * @param budget          tokens added to the tenant's period count
     * @param periodStart     the budget period they were added to (null without a budget)
     * @param refusal         null when reserved; otherwise why not (then nothing was reserved)
     */
    public record Reservation(long tokensPerMinute, long budget, String periodStart, Admission refusal) {
        public static final Reservation NONE = new Reservation(0, 0, null, null);

        public boolean refused() {
            return refusal != null;
        }
    }

    /** A key's place among its concurrent requests on this node; {@link #leave()} gives it back (once). */
    public static final class Slot {
        static final Slot UNLIMITED = new Slot(null, 0);
        private final AtomicInteger count;
        private final long limit;
        private final AtomicBoolean left = new AtomicBoolean();

        Slot(AtomicInteger count, long limit) {
            this.count = count;
            this.limit = limit;
        }

        /** Gives the slot back; later calls do nothing. */
        public void leave() {
            if (count != null && left.compareAndSet(false, true)) {
                count.decrementAndGet();
            }
        }

        /** The limit it was taken under (0 = unlimited). */
        public long limit() {
            return limit;
        }

        /** Requests of the key in progress on this node now, this one included until it leaves. */
        public int inProgress() {
            return count == null ? 0 : count.get();
        }
    }

    public Admission admit(KeyGrant key) {
        Instant now = Instant.now();
        long budgetLeft = -1;
        Instant budgetResets = null;
        if (key.tokenBudget() != null) {
            budgetLeft = Math.max(0, key.tokenBudget() - budgetUsed(key.tenant(), key, now));
            budgetResets = key.budgetPeriod()
                    .end(now)
                    .atStartOfDay(java.time.ZoneOffset.UTC)
                    .toInstant();
        }
        LimitDecision tokens = limiter.checkTokens(key.keyId(), key.tokensPerMinute());
        if (key.tokenBudget() != null && budgetLeft <= 0) {
            return new Admission(Refusal.BUDGET, LimitDecision.UNLIMITED, tokens, 0, budgetResets);
        }
        if (!tokens.allowed()) {
            return new Admission(Refusal.TOKENS_PER_MINUTE, LimitDecision.UNLIMITED, tokens, budgetLeft, budgetResets);
        }
        // Taken last, so that a request refused for tokens or budget does not also use up a request slot.
        LimitDecision requests = limiter.takeRequest(key.keyId(), key.requestsPerMinute());
        return new Admission(
                requests.allowed() ? Refusal.NONE : Refusal.REQUESTS_PER_MINUTE,
                requests,
                tokens,
                budgetLeft,
                budgetResets);
    }

    /**
     * A slot among the key's concurrent requests, or null when the key already has its limit in progress on this
     * node (anonymous callers and unlimited keys always get one). The caller must {@link Slot#leave()} it when the
     * request ends, on every path.
     */
    public Slot enter(KeyGrant key) {
        if (key == null || key.maxConcurrentRequests() <= 0) {
            return Slot.UNLIMITED;
        }
        AtomicInteger count = inProgress.computeIfAbsent(key.keyId(), id -> new AtomicInteger());
        if (count.incrementAndGet() > key.maxConcurrentRequests()) {
            count.decrementAndGet();
            return null;
        }
        return new Slot(count, key.maxConcurrentRequests());
    }

    /** Requests of the key in progress on this node. */
    public int inProgress(long keyId) {
        AtomicInteger count = inProgress.get(keyId);
        return count == null ? 0 : count.get();
    }

    /**
     * Reserves {@code tokens} (what the generation may use at most) against the key's tokens/minute bucket and its
     * tenant's budget. Refused while either is used up (by finished requests or by the reservations of requests in
     * progress); otherwise taken in full even if that overdraws them, so the request that crosses a limit runs and
     * the next ones wait. Nothing is reserved for an anonymous caller.
     */
    public Reservation reserve(KeyGrant key, long tokens) {
        if (key == null) {
            return Reservation.NONE;
        }
        Instant now = Instant.now();
        String period = null;
        Instant budgetResets = null;
        long reservedBudget = 0;
        if (key.tokenBudget() != null) {
            budgetUsed(key.tenant(), key, now); // make sure the period's count exists (seeded from the database)
            period = key.budgetPeriod().start(now).toString();
            budgetResets = key.budgetPeriod()
                    .end(now)
                    .atStartOfDay(java.time.ZoneOffset.UTC)
                    .toInstant();
            if (!limiter.reserveBudget(key.tenant(), period, key.tokenBudget(), tokens)) {
                return new Reservation(
                        0,
                        0,
                        null,
                        new Admission(
                                Refusal.BUDGET, LimitDecision.UNLIMITED, LimitDecision.UNLIMITED, 0, budgetResets));
            }
            reservedBudget = tokens;
        }
        LimitDecision perMinute = limiter.reserveTokens(key.keyId(), key.tokensPerMinute(), tokens);
        if (!perMinute.allowed()) {
            if (period != null) limiter.addBudgetUse(key.tenant(), period, -reservedBudget);
            return new Reservation(
                    0,
                    0,
                    null,
                    new Admission(Refusal.TOKENS_PER_MINUTE, LimitDecision.UNLIMITED, perMinute, -1, budgetResets));
        }
        return new Reservation(perMinute.limited() ? tokens : 0, reservedBudget, period, null);
    }

    /** Gives back a reservation whose generation never ran (refused or failed before it was queued). */
    public void refund(KeyGrant key, Reservation reservation) {
        if (key == null || reservation == null || reservation.refused()) {
            return;
        }
        limiter.settleTokens(key.keyId(), key.tokensPerMinute(), -reservation.tokensPerMinute());
        if (reservation.periodStart() != null) {
            limiter.addBudgetUse(key.tenant(), reservation.periodStart(), -reservation.budget());
        }
    }

    /**
     * Settles a finished generation (completed, failed, cancelled or answered from the cache): the tokens it used
     * replace what it reserved, on the key's bucket and the tenant's budget, and its usage row is queued; never
     * throws into the caller.
     */
    public void settle(KeyGrant key, Reservation reservation, UsageEntry usage) {
        long tokens = (long) usage.promptTokens() + usage.completionTokens();
        if (key != null) {
            Reservation r = reservation == null || reservation.refused() ? Reservation.NONE : reservation;
            limiter.settleTokens(key.keyId(), key.tokensPerMinute(), tokens - r.tokensPerMinute());
            if (r.periodStart() != null) {
                limiter.addBudgetUse(key.tenant(), r.periodStart(), tokens - r.budget());
            } else if (key.tokenBudget() != null) {
                Instant now = Instant.now();
                budgetUsed(key.tenant(), key, now); // make sure the period's count exists (seeded from the database)
                limiter.addBudgetUse(key.tenant(), key.budgetPeriod().start(now).toString(), tokens);
            }
        }
        ledger.usage(usage);
        metrics.settled(usage);
    }

    public java.math.BigDecimal cost(String model, int promptTokens, int completionTokens) {
        return config.cost(model, promptTokens, completionTokens);
    }

    private long budgetUsed(String tenant, KeyGrant key, Instant now) {
        String periodStart = key.budgetPeriod().start(now).toString();
        Long cached = limiter.budgetUsed(tenant, periodStart);
        if (cached != null) {
            return cached;
        }
        // First request of the period on this cluster (or the count expired): start from what the database holds.
        ledger.flush();
        return limiter.seedBudget(
                tenant,
                periodStart,
                report.tokensUsedSince(tenant, key.budgetPeriod().start(now)));
    }
}
