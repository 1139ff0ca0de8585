package dev.anvil.api.openai;

import dev.anvil.cache.CacheDirective;
import dev.anvil.cache.CacheableRequest;
import dev.anvil.cache.CachedGeneration;
import dev.anvil.cache.ResponseCache;
import dev.anvil.cache.ResponseCacheConfig;
import dev.anvil.engine.GrammarConstraint;
import dev.anvil.serving.ServedModel;
import jakarta.annotation.PreDestroy;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The response cache's stage of a generation request (after routing has fixed the exact version and admission has
 * reserved what it may use, before submission), within the caller's scope (its tenant; anonymous callers share
 * one): a hit becomes a {@link Submission} replayed from the cache, without inference; a cacheable miss
 * becomes a live submission that records its deltas and is stored once every choice finished. Requests that ask
 * {@code Cache-Control: no-cache} are not answered from the cache (their result refreshes it), {@code no-store}
 * ones neither read nor write it.
 */
@ApplicationScoped
public class ResponseCacheStage {

    /**
     * Response header that tells a client what the cache did: hit, semantic-hit, miss, no-cache, no-store, uncacheable,
     * off.
     */
    public static final String HEADER = "X-Anvil-Cache";
    /** Response header of a semantic hit: the cosine similarity of the prompt whose response answered (4 decimals). */
    public static final String SIMILARITY_HEADER = "X-Anvil-Cache-Similarity";
    /** Request attribute: nanoseconds the cache stage took (key and lookup). */
    static final String STAGE_NANOS = ResponseCacheStage.class.getName() + ".nanos";

    private static final Logger LOG = Logger.getLogger(ResponseCacheStage.class.getName());

    @EJB
    ResponseCache cache;

    @EJB
    dev.anvil.serving.InferenceService inference;

    @Inject
    ResponseCacheConfig config;

    @Inject
    ServedModels models;

    /** The current HTTP request (a proxy), for its Cache-Control header. */
    @Inject
    HttpServletRequest httpRequest;

    /** The caller (request-scoped): its tenant is the scope of its entries. */
    @Inject
    dev.anvil.api.gateway.CallerContext caller;

    /** Stores run here, off the batching thread that completes the generation. */
    private final ExecutorService storing = Executors.newVirtualThreadPerTaskExecutor();

    @PreDestroy
    void shutdown() {
        storing.shutdownNow();
    }

    /**
     * The cache's word on a request for {@code model}'s exact version: a {@link ResponseCache.Lookup.Hit} is answered
     * by {@link Submission#replay} without inference; a storable {@link ResponseCache.Lookup.Miss} makes the live
     * submission record its deltas ({@link Submission#live}) for {@link #storeWhenDone}. A generation constrained by
     * {@code grammar} (null: none) differs from a free one of the same prompt: the grammar is part of the key.
     */
    ResponseCache.Lookup lookUp(
            ServedModel model,
            GenerationOptions options,
            List<int[]> prompts,
            Integer logprobs,
            GrammarConstraint grammar,
            String promptText) {
        long start = System.nanoTime();
        ResponseCache.Lookup lookup = lookUpNow(model, options, prompts, logprobs, grammar, promptText);
        try {
            if (httpRequest != null) httpRequest.setAttribute(STAGE_NANOS, System.nanoTime() - start);
        } catch (RuntimeException e) {
            // not on a request thread (no active request context): nothing to report the time to
        }
        return lookup;
    }

    private ResponseCache.Lookup lookUpNow(
            ServedModel model,
            GenerationOptions options,
            List<int[]> prompts,
            Integer logprobs,
            GrammarConstraint grammar,
            String promptText) {
        CacheableRequest request = new CacheableRequest(
                model.name(),
                model.version(),
                prompts,
                options.sampling(),
                options.seedGiven(),
                options.maxTokens(),
                options.stop(),
                options.n(),
                logprobs,
                scope(),
                grammar == null
                        ? null
                        : grammar.grammar().source() + "\u0000" + String.join("\u0000", grammar.triggers()));
        CacheDirective directive = CacheDirective.parse(cacheControl());
        // A request an experiment routed is always generated: its outcome (latency, tokens, shadow copies) measures
        // the variant, which a replay would not. Its generation may still be stored for later, unrouted requests.
        if (options.route() != null && directive.mayRead()) directive = new CacheDirective(true, directive.noStore());
        ResponseCache.Lookup lookup = cache.lookup(request, directive);
        // The semantic cache: only where the exact cache missed a read it was allowed (not no-cache/no-store, not
        // routed),
        // for one prompt of a model it serves.
        if (lookup instanceof ResponseCache.Lookup.Miss miss
                && miss.status().equals("miss")
                && prompts.size() == 1
                && promptText != null
                && !promptText.isBlank()
                && config.semantic(model.name())) {
            float[] embedding = embed(promptText);
            if (embedding == null) cache.notStored("semantic_unavailable");
            else return cache.semanticLookup(miss, request, embedding);
        }
        return lookup;
    }

    /**
     * The prompt text's embedding by the configured embedding model (its first context-length tokens), or null when it
     * cannot be had now (model not served, queue full, too slow): the request then goes on as an exact-cache miss.
     */
    private float[] embed(String text) {
        String name = config.semanticEmbeddingModel().orElseThrow();
        try {
            return inference.embedText(name, text).get(EMBED_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (dev.anvil.serving.InferenceException e) {
            if (e.kind() == dev.anvil.serving.InferenceException.Kind.INVALID) {
                LOG.warning("anvil.cache.semantic.embedding-model: " + e.getMessage()); // misconfigured: say so
            } else {
                LOG.log(Level.FINE, "semantic cache: no embedding from " + name, e);
            }
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (Exception e) {
            LOG.log(Level.FINE, "semantic cache: no embedding from " + name, e);
            return null;
        }
    }

    /** Longest wait for a prompt's embedding before the request goes on without the semantic cache. */
    private static final long EMBED_TIMEOUT_SECONDS = 5;

    /** Once every prompt of a live, storable submission finished, stores its generation (off the batching thread). */
    void storeWhenDone(Submission submission) {
        if (!(submission.cacheLookup instanceof ResponseCache.Lookup.Miss miss) || !miss.mayStore()) return;
        submission
                .results()
                .whenCompleteAsync(
                        (results, error) -> {
                            if (error != null) {
                                cache.notStored("failed");
                                return;
                            }
                            try {
                                CachedGeneration generation = submission.recordedGeneration(results);
                                if (generation == null) cache.notStored("incomplete");
                                else cache.store(miss, generation);
                            } catch (RuntimeException e) {
                                LOG.log(Level.WARNING, "storing " + submission.id + " in the response cache failed", e);
                            }
                        },
                        storing);
    }

    /**
     * Whose entries the request may read and write: its API key's tenant; every caller without a key shares the
     * anonymous scope. A hit across tenants would tell one what another asked (and the answer it got).
     */
    private String scope() {
        try {
            var key = caller == null ? null : caller.key();
            return key == null ? CacheableRequest.ANONYMOUS_SCOPE : key.tenant();
        } catch (RuntimeException e) {
            return CacheableRequest.ANONYMOUS_SCOPE; // not on a request thread (no active request context)
        }
    }

    private String cacheControl() {
        try {
            return httpRequest == null ? null : httpRequest.getHeader("Cache-Control");
        } catch (RuntimeException e) {
            return null; // not on a request thread (no active request context): no directive
        }
    }
}
