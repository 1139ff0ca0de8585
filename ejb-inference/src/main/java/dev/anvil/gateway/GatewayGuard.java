package dev.anvil.gateway;

import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Instant;

/**
 * The per-request gateway rules: before a request, a key's requests/minute and tokens/minute buckets and its
 * tenant's token budget ({@link #admit}); after a generation, the tokens it used are debited and its usage
 * row queued ({@link #settle}). State lives in {@link RateLimiter}'s Infinispan cache; rows go to
 * {@link GatewayLedger}.
 */
@ApplicationScoped
public class GatewayGuard {

    @Inject
    RateLimiter limiter;

    @Inject
    GatewayConfig config;

    @EJB
    UsageReport report;

    @EJB
    GatewayLedger ledger;

    /** Why a request is refused before it runs, or {@link Refusal#NONE}. */
    public enum Refusal { NONE, REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE, BUDGET }

    /**
     * The decision for one request, with what the {@code x-ratelimit-*} headers show.
     *
     * @param budgetLeft tokens left in the tenant's period; -1 = no budget
     */
    public record Admission(Refusal refusal, LimitDecision requests, LimitDecision tokens, long budgetLeft,
                            Instant budgetResetsAt) {
        public boolean admitted() {
            return refusal == Refusal.NONE;
        }
    }

    public Admission admit(KeyGrant key) {
        Instant now = Instant.now();
        long budgetLeft = -1;
        Instant budgetResets = null;
        if (key.tokenBudget() != null) {
            budgetLeft = Math.max(0, key.tokenBudget() - budgetUsed(key.tenant(), key, now));
            budgetResets = key.budgetPeriod().end(now).atStartOfDay(java.time.ZoneOffset.UTC).toInstant();
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
        return new Admission(requests.allowed() ? Refusal.NONE : Refusal.REQUESTS_PER_MINUTE, requests, tokens,
                budgetLeft, budgetResets);
    }

    /** Debits a finished generation's tokens (key and tenant) and queues its usage row; never throws into the caller. */
    public void settle(KeyGrant key, UsageEntry usage) {
        long tokens = (long) usage.promptTokens() + usage.completionTokens();
        if (key != null) {
            limiter.debitTokens(key.keyId(), key.tokensPerMinute(), tokens);
            if (key.tokenBudget() != null) {
                Instant now = Instant.now();
                budgetUsed(key.tenant(), key, now); // make sure the period's count exists (seeded from the database)
                limiter.addBudgetUse(key.tenant(), key.budgetPeriod().start(now).toString(), tokens);
            }
        }
        ledger.usage(usage);
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
        return limiter.seedBudget(tenant, periodStart, report.tokensUsedSince(tenant, key.budgetPeriod().start(now)));
    }
}
