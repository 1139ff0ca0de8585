package dev.anvil.cache;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Optional;
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

    /**
     * Generation models (names) whose cacheable requests may also be answered by the semantic cache: from a stored
     * response to a request whose prompt embedding is at least {@code min-similarity} to this one's. Empty: none.
     */
    @Inject
    @ConfigProperty(name = "anvil.cache.semantic.models")
    Optional<List<String>> semanticModels = Optional.empty();

    /** The embedding model (a name Anvil serves, e.g. a BGE or MiniLM GGUF) that embeds prompts for the semantic cache. */
    @Inject
    @ConfigProperty(name = "anvil.cache.semantic.embedding-model")
    Optional<String> semanticEmbeddingModel = Optional.empty();

    /** Least cosine similarity of two prompts' embeddings for one's response to answer the other. */
    @Inject
    @ConfigProperty(name = "anvil.cache.semantic.min-similarity", defaultValue = "0.95")
    double semanticMinSimilarity = 0.95;

    /** Prompt embeddings the semantic index keeps on this server (least recently used forgotten first). */
    @Inject
    @ConfigProperty(name = "anvil.cache.semantic.max-entries", defaultValue = "10000")
    int semanticMaxEntries = 10000;

    /** Whether requests to {@code modelName} are looked up in the semantic cache (needs an embedding model too). */
    public boolean semantic(String modelName) {
        return semanticEmbeddingModel().isPresent()
                && semanticModels != null
                && semanticModels.orElse(List.of()).stream().map(String::strip).anyMatch(modelName::equals);
    }

    public Optional<String> semanticEmbeddingModel() {
        return semanticEmbeddingModel == null
                ? Optional.empty()
                : semanticEmbeddingModel.map(String::strip).filter(s -> !s.isEmpty());
    }

    /** @throws IllegalArgumentException naming the key when it is outside (0, 1] */
    public double semanticMinSimilarity() {
        if (!(semanticMinSimilarity > 0 && semanticMinSimilarity <= 1)) {
            throw new IllegalArgumentException(
                    "anvil.cache.semantic.min-similarity must be in (0, 1], got " + semanticMinSimilarity);
        }
        return semanticMinSimilarity;
    }

    public int semanticMaxEntries() {
        return dev.anvil.config.ConfigBounds.atLeast("anvil.cache.semantic.max-entries", semanticMaxEntries, 1);
    }

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
