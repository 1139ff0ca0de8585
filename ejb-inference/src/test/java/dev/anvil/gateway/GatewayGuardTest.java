package dev.anvil.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.gateway.domain.BudgetPeriod;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.infinispan.configuration.cache.ConfigurationBuilder;
import org.infinispan.configuration.global.GlobalConfigurationBuilder;
import org.infinispan.manager.DefaultCacheManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link GatewayGuard}'s reservations and concurrent-request slots over a real Infinispan local cache (the one the
 * server's {@code gateway-limits} cache is), with the ledger queueing rows in memory (no database is reached: each
 * test seeds its tenant's budget count as the database would).
 */
class GatewayGuardTest {

    private DefaultCacheManager manager;
    private GatewayGuard guard;
    private RateLimiter limiter;
    private GatewayLedger ledger;
    private final List<UsageEntry> measured = new ArrayList<>();

    @BeforeEach
    void start() {
        manager = new DefaultCacheManager(
                new GlobalConfigurationBuilder().nonClusteredDefault().build());
        manager.defineConfiguration("gateway-limits", new ConfigurationBuilder().build());
        limiter = new RateLimiter();
        limiter.cache = manager.getCache("gateway-limits");
        GatewayConfig config = new GatewayConfig();
        config.ledgerMaxPending = 1000;
        config.ledgerBatchSize = 100;
        ledger = new GatewayLedger();
        ledger.config = config;
        guard = new GatewayGuard();
        guard.limiter = limiter;
        guard.config = config;
        guard.ledger = ledger;
        guard.metrics =
                new GatewayMetrics() { // records what would go to the MetricRegistry
                    @Override
                    void settled(UsageEntry usage) {
                        measured.add(usage);
                    }
                };
    }

    @AfterEach
    void stop() {
        manager.stop();
    }

    private KeyGrant key(long id, String tenant, long tokensPerMinute, Long budget, long concurrent) {
        return new KeyGrant(
                id,
                "anv-k" + id,
                "k" + id,
                tenant,
                List.of("*"),
                0,
                tokensPerMinute,
                budget,
                BudgetPeriod.MONTH,
                false,
                concurrent,
                false);
    }

    private String period() {
        return BudgetPeriod.MONTH.start(Instant.now()).toString();
    }

    private UsageEntry usage(KeyGrant key, int prompt, int completion) {
        return new UsageEntry(
                Instant.now(),
                "cmpl-x",
                key.tenant(),
                key.keyId(),
                key.prefix(),
                "m",
                "1.0.0",
                "/v1/completions",
                prompt,
                completion,
                BigDecimal.ZERO,
                1,
                "ok",
                null,
                null);
    }

    @Test
    void aBudgetWithRoomLeftAdmitsOneLongGenerationNotMany() {
        KeyGrant key = key(1, "t1", 0, 100L, 0);
        limiter.seedBudget("t1", period(), 99); // one token left
        GatewayGuard.Reservation first = guard.reserve(key, 5 + 400);
        assertFalse(first.refused(), "the request that crosses the budget runs");
        assertEquals(504, limiter.budgetUsed("t1", period()));
        GatewayGuard.Reservation second = guard.reserve(key, 5 + 400);
        assertTrue(second.refused(), "the next one sees the first one's reservation");
        assertEquals(GatewayGuard.Refusal.BUDGET, second.refusal().refusal());
        assertEquals(504, limiter.budgetUsed("t1", period()), "a refused reservation takes nothing");

        guard.settle(key, first, usage(key, 5, 20)); // it stopped after 20 tokens: 380 come back
        assertEquals(124, limiter.budgetUsed("t1", period()));
        assertEquals(1, ledger.pending(), "its usage row is queued");
        assertEquals(1, measured.size(), "and counted in the gateway's metrics");
        assertEquals(20, measured.get(0).completionTokens());
        assertTrue(guard.reserve(key, 10).refused(), "still over the budget");
    }

    @Test
    void concurrentReservationsNeverAdmitMoreThanTheBudgetAllows() throws Exception {
        KeyGrant key = key(2, "t2", 0, 100L, 0);
        limiter.seedBudget("t2", period(), 0);
        int callers = 16;
        CountDownLatch start = new CountDownLatch(1);
        List<Future<GatewayGuard.Reservation>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(callers)) {
            for (int i = 0; i < callers; i++) {
                results.add(pool.submit(() -> {
                    start.await();
                    return guard.reserve(key, 30);
                }));
            }
            start.countDown();
            int admitted = 0;
            for (Future<GatewayGuard.Reservation> r : results) {
                if (!r.get().refused()) admitted++;
            }
            assertEquals(4, admitted, "0, 30, 60 and 90 are below 100; then the count is 120");
        }
        assertEquals(120, limiter.budgetUsed("t2", period()));
    }

    @Test
    void tokensPerMinuteAreReservedAtAdmissionAndTheUnusedPartCreditedBack() {
        KeyGrant key = key(3, "t3", 20, null, 0);
        GatewayGuard.Reservation first = guard.reserve(key, 29);
        assertFalse(first.refused(), "a bucket that is not in debt admits a request that may overdraw it");
        GatewayGuard.Reservation second = guard.reserve(key, 4);
        assertTrue(second.refused());
        assertEquals(GatewayGuard.Refusal.TOKENS_PER_MINUTE, second.refusal().refusal());
        assertTrue(second.refusal().tokens().retryAfterMillis() > 0);

        guard.settle(key, first, usage(key, 5, 0)); // 24 of the 29 were not used
        GatewayGuard.Reservation third = guard.reserve(key, 4);
        assertFalse(third.refused(), "the credit brought the bucket out of debt");
    }

    @Test
    void aRefundGivesTheWholeReservationBack() {
        KeyGrant key = key(4, "t4", 50, 1000L, 0);
        limiter.seedBudget("t4", period(), 0);
        GatewayGuard.Reservation r = guard.reserve(key, 60);
        assertFalse(r.refused());
        assertEquals(60, limiter.budgetUsed("t4", period()));
        assertTrue(guard.reserve(key, 1).refused(), "the bucket is in debt");
        guard.refund(key, r);
        assertEquals(0, limiter.budgetUsed("t4", period()));
        assertFalse(guard.reserve(key, 1).refused());
        assertEquals(0, ledger.pending(), "a refund writes no usage row");
    }

    @Test
    void aTokensPerMinuteRefusalGivesTheBudgetReservationBack() {
        KeyGrant key = key(5, "t5", 10, 1000L, 0);
        limiter.seedBudget("t5", period(), 0);
        assertFalse(guard.reserve(key, 30).refused());
        GatewayGuard.Reservation refused = guard.reserve(key, 30);
        assertEquals(GatewayGuard.Refusal.TOKENS_PER_MINUTE, refused.refusal().refusal());
        assertEquals(30, limiter.budgetUsed("t5", period()), "only the admitted request's tokens are counted");
    }

    @Test
    void anonymousCallersReserveNothing() {
        assertEquals(GatewayGuard.Reservation.NONE, guard.reserve(null, 1_000_000));
        assertNotNull(guard.enter(null));
    }

    @Test
    void aKeyHasAtMostItsLimitInProgressAndASlotIsGivenBackOnce() {
        KeyGrant key = key(6, "t6", 0, null, 2);
        GatewayGuard.Slot a = guard.enter(key);
        GatewayGuard.Slot b = guard.enter(key);
        assertNotNull(a);
        assertNotNull(b);
        assertNull(guard.enter(key), "a third concurrent request is refused");
        assertEquals(2, guard.inProgress(6));
        a.leave();
        a.leave(); // released twice (e.g. by the stream's end and a failed resume): counts once
        assertEquals(1, guard.inProgress(6));
        GatewayGuard.Slot c = guard.enter(key);
        assertNotNull(c);
        assertNull(guard.enter(key));
        b.leave();
        c.leave();
        assertEquals(0, guard.inProgress(6));
        KeyGrant unlimited = key(7, "t6", 0, null, 0);
        for (int i = 0; i < 100; i++) assertNotNull(guard.enter(unlimited));
    }
}
