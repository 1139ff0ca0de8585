package dev.anvil.cache;

import dev.anvil.registry.ModelStageChanged;
import dev.anvil.serving.ModelVersionUnloaded;
import jakarta.annotation.Resource;
import jakarta.annotation.security.PermitAll;
import jakarta.ejb.ConcurrencyManagement;
import jakarta.ejb.ConcurrencyManagementType;
import jakarta.ejb.Singleton;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.TransactionPhase;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.infinispan.Cache;
import org.infinispan.commons.util.CloseableIterator;

/**
 * The exact-match response cache: finished generations of deterministic requests, keyed by
 * {@link ResponseCacheKeys} over the exact model version and everything that decides the output.
 *
 * <p>The entries live in the Infinispan cache {@code anvil/responses} of WildFly's infinispan subsystem
 * ({@code server-config/src/main/cli/profiles/caches-local.cli}: local on a standalone server; {@code clustered.cli}: distributed on a clustered
 * one); the container owns its size bound, eviction and statistics. Keys are {@code name@version#digest}, so the
 * entries of one version can be found and removed when it changes stage or is unloaded. Values are the bytes of
 * {@link CachedGenerationCodec}, which every marshaller the container may use handles.
 *
 * <p>A generation that started before its version was invalidated is not stored when it finishes after the
 * invalidation (it would bring back an entry of the old state): each lookup takes a sequence number and
 * {@link #store} refuses misses older than their version's last invalidation on this server.
 */
@Singleton
@ConcurrencyManagement(ConcurrencyManagementType.BEAN)
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
@PermitAll
public class ResponseCache {

    private static final Logger LOG = Logger.getLogger(ResponseCache.class.getName());
    /** The JNDI name WildFly binds the cache under (cache container "anvil", cache "responses"). */
    public static final String JNDI_NAME = "java:jboss/infinispan/cache/anvil/responses";

    @Resource(lookup = JNDI_NAME)
    Cache<String, byte[]> cache;

    @Inject
    ResponseCacheConfig config;

    @Inject
    ResponseCacheMetrics metrics;

    private final AtomicLong sequence = new AtomicLong();
    private volatile SemanticIndex semantic;
    /** "name@version" → the sequence number of its last invalidation. */
    private final Map<String, Long> invalidatedAt = new ConcurrentHashMap<>();

    /** What the cache says about one request. */
    public sealed interface Lookup {
        /** A label for logs and the {@code X-Anvil-Cache} response header. */
        String status();

        /**
         * The cache holds the request's generation; {@code similarity} is NaN for the exact entry, else the cosine
         * similarity of the prompt whose response answers this one (a semantic hit).
         */
        record Hit(CachedGeneration generation, double similarity) implements Lookup {
            public Hit(CachedGeneration generation) {
                this(generation, Double.NaN);
            }

            public boolean semantic() {
                return !Double.isNaN(similarity);
            }

            public String status() {
                return semantic() ? "semantic-hit" : "hit";
            }
        }

        /**
         * Cacheable and not held (or not to be read): generate, then {@link #store} unless {@code mayStore} is false;
         * {@code semantic} (null unless the semantic cache looked the request up) indexes the stored entry's prompt.
         */
        record Miss(String key, String modelRef, long sequence, boolean mayStore, String status, Semantic semantic)
                implements Lookup {
            public Miss(String key, String modelRef, long sequence, boolean mayStore, String status) {
                this(key, modelRef, sequence, mayStore, status, null);
            }
        }

        /** Not cacheable (random sampling) or the cache is off: generate and do not store. */
        record Bypass(String reason) implements Lookup {
            public String status() {
                return reason.equals("disabled") ? "off" : "uncacheable";
            }
        }
    }

    /** What the semantic index needs to index a stored entry: its group and its prompt's unit embedding. */
    public record Semantic(String scope, String parametersDigest, float[] unitEmbedding) {}

    /**
     * The semantic cache's word on a request the exact cache missed ({@code miss}, status "miss"): a stored response
     * to a prompt of the same group whose embedding is at least {@code anvil.cache.semantic.min-similarity} to
     * {@code embedding}'s, or the miss made to index this request's entry when it is stored.
     */
    public Lookup semanticLookup(Lookup.Miss miss, CacheableRequest request, float[] embedding) {
        if (!(ResponseCacheKeys.derive(request) instanceof ResponseCacheKeys.Derivation.Cacheable c)) return miss;
        float[] unit = SemanticIndex.unit(embedding);
        SemanticIndex.Group group = new SemanticIndex.Group(request.scope(), miss.modelRef(), c.parametersDigest());
        SemanticIndex.Match match = semanticIndex().nearest(group, unit, config.semanticMinSimilarity());
        if (match != null) {
            byte[] value = cache.get(match.exactKey());
            if (value != null) {
                try {
                    CachedGeneration generation = CachedGenerationCodec.decode(value);
                    if (generation.prompts().size() == request.prompts().size()) {
                        metrics.semanticHit();
                        return new Lookup.Hit(generation, match.similarity());
                    }
                } catch (IllegalArgumentException e) {
                    LOG.log(Level.WARNING, "semantic cache: unreadable entry " + match.exactKey(), e);
                }
            }
            semanticIndex().remove(match.exactKey()); // the entry expired or was evicted: its vector goes too
        }
        metrics.semanticMiss();
        return new Lookup.Miss(
                miss.key(),
                miss.modelRef(),
                miss.sequence(),
                miss.mayStore(),
                miss.status(),
                new Semantic(request.scope(), c.parametersDigest(), unit));
    }

    /** The semantic index, made on first use with the configured bound (its size a gauge from then). */
    private SemanticIndex semanticIndex() {
        SemanticIndex index = semantic;
        if (index == null) {
            synchronized (this) {
                index = semantic;
                if (index == null) {
                    index = new SemanticIndex(config.semanticMaxEntries());
                    metrics.semanticEntries(index::size);
                    semantic = index;
                }
            }
        }
        return index;
    }

    /** Looks {@code request} up as its {@code Cache-Control} directive allows. */
    public Lookup lookup(CacheableRequest request, CacheDirective directive) {
        if (!config.enabled()) {
            metrics.skipped("disabled");
            return new Lookup.Bypass("disabled");
        }
        switch (ResponseCacheKeys.derive(request)) {
            case ResponseCacheKeys.Derivation.NotCacheable nc -> {
                metrics.skipped(nc.reason());
                return new Lookup.Bypass(nc.reason());
            }
            case ResponseCacheKeys.Derivation.Cacheable c -> {
                String ref = request.modelRef();
                String key = key(ref, c.digest());
                long seq = sequence.incrementAndGet();
                if (!directive.mayRead()) {
                    metrics.skipped(directive.noStore() ? "no_store" : "no_cache");
                    return new Lookup.Miss(
                            key, ref, seq, directive.mayWrite(), directive.noStore() ? "no-store" : "no-cache");
                }
                byte[] value = cache.get(key);
                if (value != null) {
                    try {
                        CachedGeneration generation = CachedGenerationCodec.decode(value);
                        if (generation.prompts().size() == request.prompts().size()) {
                            metrics.hit();
                            return new Lookup.Hit(generation);
                        }
                    } catch (IllegalArgumentException e) {
                        LOG.log(Level.WARNING, "dropping unreadable response cache entry " + key, e);
                    }
                    cache.remove(key);
                }
                metrics.miss();
                return new Lookup.Miss(key, ref, seq, true, "miss");
            }
        }
    }

    /** Stores the generation of a miss, unless the miss may not store, or its version was invalidated since. */
    public void store(Lookup.Miss miss, CachedGeneration generation) {
        if (!miss.mayStore()) return;
        Long invalidated = invalidatedAt.get(miss.modelRef());
        if (invalidated != null && invalidated > miss.sequence()) {
            metrics.skipped("invalidated");
            return;
        }
        byte[] value = CachedGenerationCodec.encode(generation);
        if (value.length > config.maxEntryBytes()) {
            metrics.skipped("too_large");
            return;
        }
        if (config.ttlSeconds() > 0) cache.put(miss.key(), value, config.ttlSeconds(), TimeUnit.SECONDS);
        else cache.put(miss.key(), value); // no lifespan: only the size bound and invalidation remove it
        metrics.stored();
        Semantic s = miss.semantic();
        if (s != null) {
            semanticIndex()
                    .add(
                            new SemanticIndex.Group(s.scope(), miss.modelRef(), s.parametersDigest()),
                            miss.key(),
                            s.unitEmbedding());
        }
    }

    /** A generation that will not be stored (cancelled, failed): counted, nothing else. */
    public void notStored(String reason) {
        metrics.skipped(reason);
    }

    /** Removes every entry of {@code name@version}; returns how many. */
    public int invalidate(String model, String version) {
        String ref = model + "@" + version;
        invalidatedAt.put(ref, sequence.incrementAndGet());
        if (semantic != null) semantic.invalidate(ref);
        String prefix = key(ref, "");
        List<String> keys = new ArrayList<>();
        try (CloseableIterator<String> it = cache.keySet().iterator()) {
            while (it.hasNext()) {
                String key = it.next();
                if (key.startsWith(prefix)) keys.add(key);
            }
        }
        int removed = 0;
        for (String key : keys) {
            if (cache.remove(key) != null) removed++;
        }
        if (removed > 0) {
            metrics.invalidated(removed);
            int n = removed;
            LOG.info(() -> "Response cache: removed " + n + " entries of " + ref);
        }
        return removed;
    }

    /** A promotion, rollback or archival changes what the version's name resolves to: its entries go. */
    public void onStageChanged(@Observes(during = TransactionPhase.AFTER_SUCCESS) ModelStageChanged event) {
        invalidate(event.model(), event.version());
    }

    /** An unloaded version's entries go with it. */
    public void onUnloaded(@Observes ModelVersionUnloaded event) {
        invalidate(event.model(), event.version());
    }

    static String key(String modelRef, String digest) {
        return modelRef + "#" + digest;
    }
}
