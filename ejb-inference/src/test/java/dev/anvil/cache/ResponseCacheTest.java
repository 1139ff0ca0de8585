package dev.anvil.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.SamplingParams;
import dev.anvil.registry.ModelStageChanged;
import dev.anvil.serving.ModelVersionUnloaded;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.infinispan.configuration.cache.ConfigurationBuilder;
import org.infinispan.configuration.global.GlobalConfigurationBuilder;
import org.infinispan.manager.DefaultCacheManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ResponseCache} over a real Infinispan local cache configured like {@code profiles/caches-local.cli}'s (the test
 * builds the manager the server's subsystem builds in production).
 */
class ResponseCacheTest {

    /** Records what the cache reports instead of writing to a MetricRegistry. */
    static final class CountingMetrics extends ResponseCacheMetrics {
        int hits, misses, stores, invalidated;
        final List<String> skips = new ArrayList<>();

        @Override
        void hit() {
            hits++;
        }

        @Override
        void miss() {
            misses++;
        }

        @Override
        void stored() {
            stores++;
        }

        @Override
        void skipped(String reason) {
            skips.add(reason);
        }

        @Override
        void invalidated(int entries) {
            invalidated += entries;
        }

        @Override
        public void hitTime(Duration elapsed) {}
    }

    private DefaultCacheManager manager;
    private ResponseCache cache;
    private CountingMetrics metrics;
    private ResponseCacheConfig config;

    @BeforeEach
    void start() {
        manager = new DefaultCacheManager(
                new GlobalConfigurationBuilder().nonClusteredDefault().build());
        manager.defineConfiguration(
                "responses",
                new ConfigurationBuilder()
                        .memory()
                        .maxCount(100)
                        .statistics()
                        .enable()
                        .build());
        cache = new ResponseCache();
        cache.cache = manager.getCache("responses");
        metrics = new CountingMetrics();
        cache.metrics = metrics;
        config = new ResponseCacheConfig();
        config.enabled = true;
        config.ttlSeconds = 600;
        config.maxEntryBytes = 1 << 20;
        cache.config = config;
    }

    @AfterEach
    void stop() {
        manager.stop();
    }

    private static CacheableRequest request(String version, SamplingParams sampling, boolean seedGiven, int... prompt) {
        return new CacheableRequest("m", version, List.of(prompt), sampling, seedGiven, 8, List.of(), 1, null);
    }

    /** The greedy request of {@link #GREEDY} as one tenant's. */
    private static CacheableRequest scoped(String scope) {
        return new CacheableRequest(
                "m", "1.0.0", List.of(new int[] {1, 2, 3}), SamplingParams.GREEDY, false, 8, List.of(), 1, null, scope);
    }

    private static final CacheableRequest GREEDY = request("1.0.0", SamplingParams.GREEDY, false, 1, 2, 3);

    private ResponseCache.Lookup.Miss miss(CacheableRequest r, CacheDirective d) {
        return assertInstanceOf(ResponseCache.Lookup.Miss.class, cache.lookup(r, d));
    }

    @Test
    void storedGenerationIsAHitWithTheSameContent() {
        ResponseCache.Lookup.Miss miss = miss(GREEDY, CacheDirective.NONE);
        assertEquals("miss", miss.status());
        cache.store(
                miss,
                new CachedGeneration(
                        List.of(CachedGenerationCodecTest.sample().prompts().getFirst())));
        ResponseCache.Lookup.Hit hit =
                assertInstanceOf(ResponseCache.Lookup.Hit.class, cache.lookup(GREEDY, CacheDirective.NONE));
        CachedGenerationCodecTest.assertSameGeneration(
                new CachedGeneration(
                        List.of(CachedGenerationCodecTest.sample().prompts().getFirst())),
                hit.generation());
        assertEquals(1, metrics.hits);
        assertEquals(1, metrics.misses);
        assertEquals(1, metrics.stores);
        // Another prompt, version or limit is another entry.
        assertInstanceOf(
                ResponseCache.Lookup.Miss.class,
                cache.lookup(request("1.0.0", SamplingParams.GREEDY, false, 1, 2, 4), CacheDirective.NONE));
        assertInstanceOf(
                ResponseCache.Lookup.Miss.class,
                cache.lookup(request("1.0.1", SamplingParams.GREEDY, false, 1, 2, 3), CacheDirective.NONE));
    }

    @Test
    void anEntryIsAHitForItsOwnTenantOnlyAndInvalidationRemovesEveryTenantsEntries() {
        CacheableRequest acme = scoped("acme");
        CacheableRequest globex = scoped("globex");
        CachedGeneration g = new CachedGeneration(
                List.of(CachedGenerationCodecTest.sample().prompts().getFirst()));
        cache.store(miss(acme, CacheDirective.NONE), g);
        assertInstanceOf(ResponseCache.Lookup.Hit.class, cache.lookup(acme, CacheDirective.NONE));
        assertInstanceOf(
                ResponseCache.Lookup.Miss.class,
                cache.lookup(globex, CacheDirective.NONE),
                "another tenant's entry is no hit");
        assertInstanceOf(
                ResponseCache.Lookup.Miss.class,
                cache.lookup(GREEDY, CacheDirective.NONE),
                "nor an anonymous caller's");
        cache.store(miss(globex, CacheDirective.NONE), g);
        assertEquals(2, cache.invalidate("m", "1.0.0"), "the version's entries of every scope go");
        assertInstanceOf(ResponseCache.Lookup.Miss.class, cache.lookup(acme, CacheDirective.NONE));
    }

    @Test
    void randomSamplingIsNotLookedUp() {
        CacheableRequest random = request("1.0.0", SamplingParams.DEFAULTS.withSeed(77), false, 1, 2, 3);
        ResponseCache.Lookup lookup = cache.lookup(random, CacheDirective.NONE);
        assertEquals(new ResponseCache.Lookup.Bypass(ResponseCacheKeys.NOT_DETERMINISTIC), lookup);
        assertEquals("uncacheable", lookup.status());
        assertEquals(List.of("not_deterministic"), metrics.skips);
        // With the client's seed the same parameters are cacheable.
        assertInstanceOf(
                ResponseCache.Lookup.Miss.class,
                cache.lookup(
                        request("1.0.0", SamplingParams.DEFAULTS.withSeed(77), true, 1, 2, 3), CacheDirective.NONE));
    }

    @Test
    void noCacheRefreshesAndNoStoreLeavesTheCacheAlone() {
        CachedGeneration g = new CachedGeneration(
                List.of(CachedGenerationCodecTest.sample().prompts().get(1)));
        cache.store(miss(GREEDY, CacheDirective.NONE), g);
        ResponseCache.Lookup.Miss noCache = miss(GREEDY, CacheDirective.parse("no-cache"));
        assertEquals("no-cache", noCache.status());
        assertTrue(noCache.mayStore(), "no-cache stores the fresh generation");
        ResponseCache.Lookup.Miss noStore = miss(GREEDY, CacheDirective.parse("No-Store"));
        assertEquals("no-store", noStore.status());
        assertFalse(noStore.mayStore());
        cache.store(noStore, g);
        assertEquals(1, metrics.stores, "a no-store generation is not stored");
        assertEquals(List.of("no_cache", "no_store"), metrics.skips);
        assertEquals(0, metrics.hits);
    }

    @Test
    void stageChangesAndUnloadsRemoveExactlyThatVersionsEntries() {
        CachedGeneration g = new CachedGeneration(
                List.of(CachedGenerationCodecTest.sample().prompts().get(1)));
        CacheableRequest v1a = request("1.0.0", SamplingParams.GREEDY, false, 1);
        CacheableRequest v1b = request("1.0.0", SamplingParams.GREEDY, false, 2);
        CacheableRequest v2 = request("2.0.0", SamplingParams.GREEDY, false, 1);
        CacheableRequest v10 = request("1.0.00", SamplingParams.GREEDY, false, 1); // a ref that 1.0.0 prefixes
        for (CacheableRequest r : List.of(v1a, v1b, v2, v10)) cache.store(miss(r, CacheDirective.NONE), g);

        cache.onStageChanged(new ModelStageChanged("m", "1.0.0", "PRODUCTION", "ARCHIVED"));
        assertEquals(2, metrics.invalidated);
        assertInstanceOf(ResponseCache.Lookup.Miss.class, cache.lookup(v1a, CacheDirective.NONE));
        assertInstanceOf(ResponseCache.Lookup.Miss.class, cache.lookup(v1b, CacheDirective.NONE));
        assertInstanceOf(ResponseCache.Lookup.Hit.class, cache.lookup(v2, CacheDirective.NONE));
        assertInstanceOf(ResponseCache.Lookup.Hit.class, cache.lookup(v10, CacheDirective.NONE));

        cache.onUnloaded(new ModelVersionUnloaded("m", "2.0.0"));
        assertEquals(3, metrics.invalidated);
        assertInstanceOf(ResponseCache.Lookup.Miss.class, cache.lookup(v2, CacheDirective.NONE));
    }

    @Test
    void aGenerationThatStartedBeforeAnInvalidationIsNotStored() {
        CachedGeneration g = new CachedGeneration(
                List.of(CachedGenerationCodecTest.sample().prompts().get(1)));
        ResponseCache.Lookup.Miss before = miss(GREEDY, CacheDirective.NONE);
        cache.invalidate("m", "1.0.0");
        cache.store(before, g);
        assertEquals(List.of("invalidated"), metrics.skips);
        assertEquals(0, metrics.stores);
        ResponseCache.Lookup.Miss after = miss(GREEDY, CacheDirective.NONE);
        cache.store(after, g);
        assertEquals(1, metrics.stores);
        assertInstanceOf(ResponseCache.Lookup.Hit.class, cache.lookup(GREEDY, CacheDirective.NONE));
    }

    @Test
    void entriesExpireAfterTheirLifespan() throws InterruptedException {
        config.ttlSeconds = 1;
        cache.store(
                miss(GREEDY, CacheDirective.NONE),
                new CachedGeneration(
                        List.of(CachedGenerationCodecTest.sample().prompts().get(1))));
        assertInstanceOf(ResponseCache.Lookup.Hit.class, cache.lookup(GREEDY, CacheDirective.NONE));
        Thread.sleep(1100);
        assertInstanceOf(
                ResponseCache.Lookup.Miss.class, cache.lookup(GREEDY, CacheDirective.NONE), "expired after 1 s");
        config.ttlSeconds = 0;
        cache.store(
                miss(GREEDY, CacheDirective.NONE),
                new CachedGeneration(
                        List.of(CachedGenerationCodecTest.sample().prompts().get(1))));
        assertInstanceOf(ResponseCache.Lookup.Hit.class, cache.lookup(GREEDY, CacheDirective.NONE), "0: no lifespan");
    }

    @Test
    void theSizeBoundEvicts() {
        CachedGeneration g = new CachedGeneration(
                List.of(CachedGenerationCodecTest.sample().prompts().get(1)));
        for (int i = 0; i < 150; i++)
            cache.store(miss(request("1.0.0", SamplingParams.GREEDY, false, i), CacheDirective.NONE), g);
        assertTrue(cache.cache.size() <= 100, "at most the configured 100 entries: " + cache.cache.size());
        assertEquals(150, metrics.stores);
    }

    @Test
    void tooLargeDisabledAndDamagedEntries() {
        CachedGeneration g = CachedGenerationCodecTest.sample();
        config.maxEntryBytes = 16;
        CacheableRequest two = new CacheableRequest(
                "m", "1.0.0", List.of(new int[] {1}, new int[] {2}), SamplingParams.GREEDY, false, 8, List.of(), 2, 2);
        cache.store(miss(two, CacheDirective.NONE), g);
        assertEquals(List.of("too_large"), metrics.skips);
        assertInstanceOf(ResponseCache.Lookup.Miss.class, cache.lookup(two, CacheDirective.NONE));

        String key = ResponseCache.key(
                "m@1.0.0", ((ResponseCacheKeys.Derivation.Cacheable) ResponseCacheKeys.derive(GREEDY)).digest());
        cache.cache.put(key, new byte[] {42});
        assertInstanceOf(
                ResponseCache.Lookup.Miss.class,
                cache.lookup(GREEDY, CacheDirective.NONE),
                "unreadable entries are misses");
        assertNull(cache.cache.get(key), "and are dropped");

        config.enabled = false;
        ResponseCache.Lookup off = cache.lookup(GREEDY, CacheDirective.NONE);
        assertEquals("off", off.status());
        assertNotEquals(0, metrics.skips.size());
    }
}
