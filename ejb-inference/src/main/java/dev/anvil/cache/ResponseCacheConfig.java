package dev.anvil.cache;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Tunables of the response cache (MicroProfile Config). The cache's size bound is a property of the Infinispan
 * cache itself ({@code anvil.cache.max-entries}, a server expression in server-config's cache profiles), since the
 * container enforces it.
 */
@ApplicationScoped
public class ResponseCacheConfig {

    /** Whether deterministic requests are answered from and stored in the cache at all. */
    @Inject
    @ConfigProperty(name = "anvil.cache.enabled", defaultValue = "true")
    boolean enabled;

    /** Seconds a stored response stays valid (the entry's Infinispan lifespan); 0 or less: no lifespan. */
    @Inject
    @ConfigProperty(name = "anvil.cache.ttl-seconds", defaultValue = "600")
    long ttlSeconds;

    /** Largest encoded response stored, in bytes; bigger ones (long outputs with log-probabilities) are not cached. */
    @Inject
    @ConfigProperty(name = "anvil.cache.max-entry-bytes", defaultValue = "1048576")
    int maxEntryBytes;

    public boolean enabled() {
        return enabled;
    }

    public long ttlSeconds() {
        return ttlSeconds;
    }

    public int maxEntryBytes() {
        return maxEntryBytes;
    }
}
