package dev.anvil.serving;

import dev.anvil.config.ConfigBounds;
import dev.anvil.engine.EmbeddingQueue;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The embeddings capability's keys ({@code POST /v1/embeddings} and the runtimes of embedding models), with their
 * defaults. The fields start at the defaults so that an instance built without CDI (unit tests) works.
 */
@ApplicationScoped
public class EmbeddingConfig {

    public static final String MAX_INPUTS = "anvil.embeddings.max-inputs";
    public static final String MAX_BATCH_TOKENS = "anvil.embeddings.max-batch-tokens";
    public static final String MAX_QUEUE = "anvil.embeddings.max-queue";
    public static final String MATRYOSHKA_MODELS = "anvil.embeddings.matryoshka-models";

    /** Inputs one request may embed (OpenAI allows 2048; each input is at most the model's context length). */
    @Inject
    @ConfigProperty(name = MAX_INPUTS, defaultValue = "256")
    int maxInputs = 256;

    /**
     * Tokens of one forward pass of an embedding model: waiting requests are batched up to it (a single request
     * larger than it runs alone).
     */
    @Inject
    @ConfigProperty(name = MAX_BATCH_TOKENS, defaultValue = "8192")
    int maxBatchTokens = 8192;

    /** Requests waiting per embedding model version; beyond it 503 with Retry-After. */
    @Inject
    @ConfigProperty(name = MAX_QUEUE, defaultValue = "64")
    int maxQueue = 64;

    /**
     * Model names whose embeddings may be shortened with {@code dimensions} (truncated, then re-normalized): models
     * trained for it (Matryoshka representation learning, as OpenAI's text-embedding-3 and nomic-embed are). GGUF
     * records no such property, so the operator declares it; for any other model {@code dimensions} must be the
     * model's own width.
     */
    @Inject
    @ConfigProperty(name = MATRYOSHKA_MODELS)
    Optional<List<String>> matryoshkaModels = Optional.empty();

    /** @throws IllegalArgumentException naming the key of a value out of range */
    public int maxInputs() {
        return ConfigBounds.atLeast(MAX_INPUTS, maxInputs, 1);
    }

    /** Whether {@code modelName}'s embeddings may be truncated ({@value #MATRYOSHKA_MODELS}). */
    public boolean truncatable(String modelName) {
        return matryoshkaModels != null
                && matryoshkaModels.orElse(List.of()).stream()
                        .map(String::strip)
                        .anyMatch(modelName::equals);
    }

    /** @throws IllegalArgumentException naming the key of a value out of range */
    public EmbeddingQueue.Config queueConfig() {
        return new EmbeddingQueue.Config(
                ConfigBounds.atLeast(MAX_QUEUE, maxQueue, 1),
                ConfigBounds.atLeast(MAX_BATCH_TOKENS, maxBatchTokens, 1));
    }
}
