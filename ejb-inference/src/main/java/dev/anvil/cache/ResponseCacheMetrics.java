package dev.anvil.cache;

import dev.anvil.metrics.MetricMetadata;
import jakarta.annotation.Resource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.logging.Logger;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.eclipse.microprofile.metrics.Counter;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;
import org.eclipse.microprofile.metrics.Tag;
import org.infinispan.Cache;

/**
 * Response cache metrics (MicroProfile Metrics, application scope). In the Prometheus output:
 * <ul>
 *   <li>{@code anvil_cache_hits_total}, {@code anvil_cache_misses_total} (cacheable requests not found),
 *       {@code anvil_cache_stores_total}, {@code anvil_cache_skips_total{reason}} (not looked up or not stored:
 *       {@code not_deterministic}, {@code no_cache}, {@code no_store}, {@code disabled}, {@code incomplete},
 *       {@code too_large}, {@code invalidated})</li>
 *   <li>{@code anvil_cache_invalidations_total}: entries removed because their model version changed stage or was
 *       unloaded</li>
 *   <li>gauges {@code anvil_cache_hit_ratio} (hits / (hits + misses)), and from the Infinispan cache's own statistics
 *       (read from the server's management model): {@code anvil_cache_evictions} (entries evicted by the size bound)
 *       and {@code anvil_cache_entries}</li>
 *   <li>gauge {@code anvil_cache_cluster_members}: the nodes the cache container is clustered with, this one included
 *       (1 on a single server with local caches; the clustered configuration's JGroups view otherwise)</li>
 *   <li>timer {@code anvil_cache_hit_time_seconds}: server time of requests answered from the cache, from the
 *       first request filter to the response headers</li>
 * </ul>
 */
@ApplicationScoped
public class ResponseCacheMetrics {

    private static final Logger LOG = Logger.getLogger(ResponseCacheMetrics.class.getName());

    static final String HITS = "anvil.cache.hits";
    static final String MISSES = "anvil.cache.misses";
    static final String STORES = "anvil.cache.stores";
    static final String SKIPS = "anvil.cache.skips";
    static final String INVALIDATIONS = "anvil.cache.invalidations";
    static final String HIT_RATIO = "anvil.cache.hit.ratio";
    static final String EVICTIONS = "anvil.cache.evictions";
    static final String ENTRIES = "anvil.cache.entries";
    static final String HIT_TIME = "anvil.cache.hit.time";
    static final String CLUSTER_MEMBERS = "anvil.cache.cluster.members";
    static final String SEMANTIC_HITS = "anvil.cache.semantic.hits";
    static final String SEMANTIC_MISSES = "anvil.cache.semantic.misses";
    static final String SEMANTIC_ENTRIES = "anvil.cache.semantic.entries";

    /**
     * The runtime resource of the started cache as WildFly's JMX bridge names it
     * ({@code /subsystem=infinispan/cache-container=anvil/cache=responses}: the same for a local and a distributed
     * cache; attributes camel-cased).
     */
    private static final String[] CACHE_MBEANS = {"jboss.as:subsystem=infinispan,cache-container=anvil,cache=responses"
    };

    /** Every reason {@link #skipped} is called with, registered at 0 so each series exists from the start. */
    static final String[] SKIP_REASONS = {
        ResponseCacheKeys.NOT_DETERMINISTIC,
        "no_cache",
        "no_store",
        "disabled",
        "incomplete",
        "failed",
        "too_large",
        "invalidated",
        "semantic_unavailable"
    };

    private static final Metadata SKIPS_MD = MetricMetadata.of(
            SKIPS, "Requests the response cache did not answer or store, by reason", MetricUnits.NONE);
    private static final Metadata HIT_TIME_MD = MetricMetadata.of(
            HIT_TIME, "Server time of requests answered from the response cache", MetricUnits.SECONDS);

    @Inject
    MetricRegistry registry;

    @Resource(lookup = ResponseCache.JNDI_NAME)
    Cache<String, byte[]> cache;

    private Counter hits;
    private Counter misses;
    private Counter stores;
    private Counter invalidations;
    private Counter semanticHits;
    private Counter semanticMisses;
    private volatile boolean statisticsWarned;

    @jakarta.annotation.PostConstruct
    void register() {
        hits = registry.counter(MetricMetadata.of(HITS, "Requests answered from the response cache", MetricUnits.NONE));
        misses = registry.counter(
                MetricMetadata.of(MISSES, "Cacheable requests the response cache did not hold", MetricUnits.NONE));
        stores = registry.counter(
                MetricMetadata.of(STORES, "Generations stored in the response cache", MetricUnits.NONE));
        invalidations = registry.counter(MetricMetadata.of(
                INVALIDATIONS,
                "Response cache entries removed because their model version changed stage or was unloaded",
                MetricUnits.NONE));
        semanticHits = registry.counter(MetricMetadata.of(
                SEMANTIC_HITS,
                "Requests answered from the response cache by a similar prompt (semantic cache)",
                MetricUnits.NONE));
        semanticMisses = registry.counter(MetricMetadata.of(
                SEMANTIC_MISSES,
                "Requests looked up in the semantic cache without a similar enough prompt",
                MetricUnits.NONE));
        for (String reason : SKIP_REASONS) registry.counter(SKIPS_MD, new Tag("reason", reason));
        registry.gauge(
                MetricMetadata.of(HIT_RATIO, "Response cache hits / (hits + misses) since start", MetricUnits.NONE),
                this::hitRatio);
        gauge(
                EVICTIONS,
                "Response cache entries evicted by the cache's size bound (Infinispan statistics)",
                "evictions");
        gauge(ENTRIES, "Entries in the response cache (Infinispan statistics)", "numberOfEntries");
        registry.gauge(
                MetricMetadata.of(
                        CLUSTER_MEMBERS,
                        "Nodes the response cache is shared by, this one included (1: not clustered)",
                        MetricUnits.NONE),
                this::clusterMembers);
    }

    /** Members of the cache container's cluster view; a local container has no transport and no members list. */
    double clusterMembers() {
        var members = cache.getCacheManager().getMembers();
        return members == null ? 1 : members.size();
    }

    private void gauge(String name, String description, String attribute) {
        registry.gauge(MetricMetadata.of(name, description, MetricUnits.NONE), () -> statistic(attribute));
    }

    /** Creates the bean at deployment, so the counters are in /metrics (at 0) before the first request. */
    void atStartup(
            @jakarta.enterprise.event.Observes @jakarta.enterprise.context.Initialized(ApplicationScoped.class)
                    Object started) {
        hits.getCount();
    }

    double hitRatio() {
        long h = hits.getCount(), m = misses.getCount();
        return h + m == 0 ? 0 : (double) h / (h + m);
    }

    /** A runtime statistic of the cache's management resource, or -1 when the resource cannot be read. */
    double statistic(String attribute) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        for (String name : CACHE_MBEANS) {
            try {
                ObjectName objectName = new ObjectName(name);
                if (!server.isRegistered(objectName)) continue;
                Object value = server.getAttribute(objectName, attribute);
                if (value instanceof Number n) return n.doubleValue();
            } catch (Exception e) {
                if (!statisticsWarned) {
                    statisticsWarned = true;
                    LOG.warning("response cache statistic " + attribute + " cannot be read from " + name + ": " + e);
                }
            }
        }
        return -1;
    }

    void hit() {
        hits.inc();
    }

    void miss() {
        misses.inc();
    }

    void semanticHit() {
        semanticHits.inc();
    }

    void semanticMiss() {
        semanticMisses.inc();
    }

    /** The semantic index's size as {@code anvil_cache_semantic_entries}. */
    void semanticEntries(java.util.function.Supplier<Number> size) {
        registry.gauge(
                MetricMetadata.of(
                        SEMANTIC_ENTRIES,
                        "Prompt embeddings in the semantic cache's index (this server)",
                        MetricUnits.NONE),
                size);
    }

    void stored() {
        stores.inc();
    }

    void skipped(String reason) {
        registry.counter(SKIPS_MD, new Tag("reason", reason)).inc();
    }

    void invalidated(int entries) {
        invalidations.inc(entries);
    }

    /** Server time of one request answered from the cache. */
    public void hitTime(Duration elapsed) {
        registry.timer(HIT_TIME_MD).update(elapsed);
    }
}
