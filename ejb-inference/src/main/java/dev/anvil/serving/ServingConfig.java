package dev.anvil.serving;

import dev.anvil.engine.Scheduler;
import dev.anvil.engine.Speculation;
import dev.anvil.serving.chat.ChatTemplateLimits;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Every serving tunable, as MicroProfile Config keys with their defaults in one place. Set them as system
 * properties ({@code -Danvil.serving.kv-cache-bytes=...}), environment variables
 * ({@code ANVIL_SERVING_KV_CACHE_BYTES}) or files in the server's {@code configuration/anvil/} directory.
 */
@ApplicationScoped
public class ServingConfig {

    /** Bytes of KV cache per loaded model version (blocks of 16 positions; stories260K needs 2 KiB per block). */
    @Inject
    @ConfigProperty(name = "anvil.serving.kv-cache-bytes", defaultValue = "268435456")
    long kvCacheBytes;

    /** Requests waiting for admission per model version; beyond it submissions fail as OVERLOADED (HTTP 503 + Retry-After). */
    @Inject
    @ConfigProperty(name = "anvil.serving.max-queue", defaultValue = "256")
    int maxQueue;

    /** Prompt tokens prefilled per batching step (over all sequences); longer prompts are chunked. */
    @Inject
    @ConfigProperty(name = "anvil.serving.prefill-chunk-tokens", defaultValue = "256")
    int prefillChunkTokens;

    /**
     * Automatic prefix caching: KV blocks of prompt prefixes are shared between requests and kept after they end
     * (evicted least recently used when the cache needs room), so a request that starts like an earlier one (a
     * shared system prompt, a growing conversation) prefills only the rest. Output is identical either way. Has no
     * effect for models with sliding-window layers (Gemma 2/3), whose KV cache releases blocks.
     */
    @Inject
    @ConfigProperty(name = "anvil.serving.prefix-caching.enabled", defaultValue = "true")
    boolean prefixCachingEnabled;

    /**
     * Speculative decoding: {@code none}, {@code ngram} (prompt lookup: drafts copied from earlier in the prompt and
     * output, free to compute, for outputs that repeat their context) or {@code draft} (a smaller model with the
     * same vocabulary drafts; each target version's draft is named in {@code anvil.serving.speculative.draft-models},
     * a version without one decodes without speculation). Greedy output is identical with and without speculation,
     * and sampled output is distributed exactly as the target's (identical for {@code ngram}). Has no effect for
     * models with sliding-window layers (Gemma 2/3).
     */
    @Inject
    @ConfigProperty(name = "anvil.serving.speculative.method", defaultValue = "none")
    String speculativeMethod = "none";

    /** Most draft tokens a sequence proposes per step (1 to 16); it adapts below that to how many are accepted. */
    @Inject
    @ConfigProperty(name = "anvil.serving.speculative.max-draft-tokens", defaultValue = "4")
    int speculativeMaxDraftTokens = 4;

    /** Shortest n-gram prompt lookup matches (n is tried from the maximum down to this). */
    @Inject
    @ConfigProperty(name = "anvil.serving.speculative.ngram-min", defaultValue = "1")
    int speculativeNgramMin = 1;

    /** Longest n-gram prompt lookup matches first (at most 16). */
    @Inject
    @ConfigProperty(name = "anvil.serving.speculative.ngram-max", defaultValue = "3")
    int speculativeNgramMax = 3;

    /**
     * The draft model of each target version, comma-separated {@code target@version=draft@version} (or
     * {@code target=draft@version} for every version of the target); the draft must be a registered version with the
     * target's vocabulary (checked when the target loads: a mismatch fails the load). The draft is loaded with its
     * target and unloaded with it.
     */
    @Inject
    @ConfigProperty(name = "anvil.serving.speculative.draft-models")
    Optional<List<String>> speculativeDraftModels = Optional.empty();

    /** Bytes of KV cache for a draft model (0 = as many blocks as the target's cache). */
    @Inject
    @ConfigProperty(name = "anvil.serving.speculative.draft-kv-cache-bytes", defaultValue = "0")
    long speculativeDraftKvCacheBytes;

    /**
     * With {@code draft}: a sequence's drafts end at the first token the draft model gives less than this probability;
     * 0 drafts k tokens whatever the draft's confidence.
     */
    @Inject
    @ConfigProperty(name = "anvil.serving.speculative.draft-min-probability", defaultValue = "0.75")
    double speculativeDraftMinProbability = Speculation.DEFAULT_DRAFT_MIN_PROBABILITY;

    /** Sequences decoding together in one batch. */
    @Inject
    @ConfigProperty(name = "anvil.serving.max-batch-sequences", defaultValue = "32")
    int maxBatchSequences;

    /** Compute threads per loaded model (0 = one per available processor). */
    @Inject
    @ConfigProperty(name = "anvil.serving.engine-threads", defaultValue = "0")
    int engineThreads;

    /**
     * Where generation models run: {@code auto} (a CUDA GPU when the driver and a device with room are present, else the
     * CPU, saying why), {@code cpu}, {@code cuda} (the GPU with the most free memory) or {@code cuda:N}.
     */
    @Inject
    @ConfigProperty(name = "anvil.serving.device", defaultValue = "auto")
    String device;

    /** Most choices ({@code n}) per request. */
    @Inject
    @ConfigProperty(name = "anvil.serving.max-n", defaultValue = "8")
    int maxN;

    /** Register and promote the bundled stories260K model as {@code stories260k@1.0.0} when the registry is empty. */
    @Inject
    @ConfigProperty(name = "anvil.serving.default-model.enabled", defaultValue = "true")
    boolean defaultModelEnabled;

    /**
     * GGUF files to register and promote at startup, comma-separated, each {@code name=version=/path/file.gguf}
     * or just a path (name from the file name, version 1.0.0). Already registered versions are left alone.
     */
    @Inject
    @ConfigProperty(name = "anvil.serving.startup-models")
    Optional<List<String>> startupModels;

    /** Run a short generation on every loaded model before it takes traffic (and before readiness turns UP). */
    @Inject
    @ConfigProperty(name = "anvil.serving.warmup.enabled", defaultValue = "true")
    boolean warmupEnabled;

    /** Tokens the warm-up generation produces. */
    @Inject
    @ConfigProperty(name = "anvil.serving.warmup.tokens", defaultValue = "8")
    int warmupTokens;

    /** Seconds a replaced model version may take to finish its in-flight requests before it is unloaded anyway. */
    @Inject
    @ConfigProperty(name = "anvil.serving.drain-timeout-seconds", defaultValue = "120")
    int drainTimeoutSeconds;

    /**
     * Seconds to wait for a thread of the managed executor {@code anvil-batching} to start a model's batching loop
     * before loading fails (each loaded version occupies one thread for as long as it is loaded).
     */
    @Inject
    @ConfigProperty(name = "anvil.serving.loop-start-timeout-seconds", defaultValue = "30")
    int loopStartTimeoutSeconds;

    /**
     * Seconds between reconciliations of the served models with the registry besides the ones a stage change on
     * this server triggers (0 = none). A cluster's nodes share the registry database, but a promotion made through
     * one node is observed by that node only: the others find it at their next reconciliation. serve.sh sets 5 when
     * ANVIL_CLUSTER=true, unless set.
     */
    @Inject
    @ConfigProperty(name = "anvil.serving.registry-sync-seconds", defaultValue = "0")
    int registrySyncSeconds;

    /**
     * Model versions kept loaded besides each model's PRODUCTION version (pinned {@code name@version} requests,
     * experiment variants, blue-green standbys). Beyond it the least recently used idle one is unloaded.
     */
    @Inject
    @ConfigProperty(name = "anvil.serving.max-extra-loaded-versions", defaultValue = "2")
    int maxExtraLoadedVersions;

    /**
     * Seconds a request for a version that is not loaded waits for the load; if it takes longer the request gets
     * 503 with Retry-After while the load goes on.
     */
    @Inject
    @ConfigProperty(name = "anvil.serving.on-demand-load-wait-seconds", defaultValue = "30")
    int onDemandLoadWaitSeconds;

    /**
     * TEST-ONLY fault injection, empty (off) by default: comma-separated {@code name@version=delay-ms:N} (hold each
     * request to that version N ms before it is queued) or {@code name@version=fail} (reject each request to that
     * version as unavailable). For rehearsing canary rollbacks; never set it in production.
     */
    @Inject
    @ConfigProperty(name = "anvil.serving.fault-injection")
    Optional<List<String>> faultInjection;

    /**
     * Wall-clock milliseconds one chat template render may take (see {@link ChatTemplateLimits}). The chat template
     * fields start at the defaults so that a ServingConfig built without CDI (unit tests) has working limits.
     */
    @Inject
    @ConfigProperty(name = ChatTemplateLimits.TIMEOUT_MS, defaultValue = ChatTemplateLimits.DEFAULT_TIMEOUT_MS)
    long chatTemplateTimeoutMs = ChatTemplateLimits.DEFAULT.timeoutMillis();

    /** Template nodes, filter and method calls one chat template render may run. */
    @Inject
    @ConfigProperty(name = ChatTemplateLimits.MAX_STEPS, defaultValue = ChatTemplateLimits.DEFAULT_MAX_STEPS)
    long chatTemplateMaxSteps = ChatTemplateLimits.DEFAULT.maxSteps();

    /** Characters of a rendered chat prompt and of any string a template builds. */
    @Inject
    @ConfigProperty(
            name = ChatTemplateLimits.MAX_OUTPUT_CHARS,
            defaultValue = ChatTemplateLimits.DEFAULT_MAX_OUTPUT_CHARS)
    int chatTemplateMaxOutputChars = ChatTemplateLimits.DEFAULT.maxOutputChars();

    /** Elements of any list or dict a template builds (and of range()); also the most messages a request may have. */
    @Inject
    @ConfigProperty(
            name = ChatTemplateLimits.MAX_COLLECTION_SIZE,
            defaultValue = ChatTemplateLimits.DEFAULT_MAX_COLLECTION_SIZE)
    int chatTemplateMaxCollectionSize = ChatTemplateLimits.DEFAULT.maxCollectionSize();

    /** Heap bytes one chat template render may allocate (0: not checked). */
    @Inject
    @ConfigProperty(
            name = ChatTemplateLimits.MAX_ALLOCATED_BYTES,
            defaultValue = ChatTemplateLimits.DEFAULT_MAX_ALLOCATED_BYTES)
    long chatTemplateMaxAllocatedBytes = ChatTemplateLimits.DEFAULT.maxAllocatedBytes();

    /** Nesting of template constructs being rendered at once. */
    @Inject
    @ConfigProperty(name = ChatTemplateLimits.MAX_DEPTH, defaultValue = ChatTemplateLimits.DEFAULT_MAX_DEPTH)
    int chatTemplateMaxDepth = ChatTemplateLimits.DEFAULT.maxDepth();

    public long kvCacheBytes() {
        return kvCacheBytes;
    }

    public int registrySyncSeconds() {
        return registrySyncSeconds;
    }

    public int loopStartTimeoutSeconds() {
        return loopStartTimeoutSeconds;
    }

    public int maxQueue() {
        return maxQueue;
    }

    public int prefillChunkTokens() {
        return prefillChunkTokens;
    }

    public int maxBatchSequences() {
        return maxBatchSequences;
    }

    /** {@code anvil.serving.device}, parsed; an unknown form fails the load naming the accepted ones. */
    public dev.anvil.engine.DeviceChoice device() {
        return dev.anvil.engine.DeviceChoice.parse(device == null ? "auto" : device);
    }

    public int engineThreads() {
        return engineThreads > 0 ? engineThreads : Runtime.getRuntime().availableProcessors();
    }

    public int maxN() {
        return maxN;
    }

    public boolean defaultModelEnabled() {
        return defaultModelEnabled;
    }

    public List<String> startupModels() {
        return startupModels.orElse(List.of());
    }

    public boolean warmupEnabled() {
        return warmupEnabled;
    }

    public int warmupTokens() {
        return warmupTokens;
    }

    public int drainTimeoutSeconds() {
        return drainTimeoutSeconds;
    }

    public int maxExtraLoadedVersions() {
        return Math.max(0, maxExtraLoadedVersions);
    }

    public int onDemandLoadWaitSeconds() {
        return Math.max(0, onDemandLoadWaitSeconds);
    }

    public List<String> faultInjection() {
        return faultInjection == null ? List.of() : faultInjection.orElse(List.of());
    }

    /**
     * What one chat template render may cost; checked when a version is registered and loaded (a probe conversation)
     * and on every chat request.
     *
     * @throws IllegalArgumentException naming the key of a value out of range
     */
    public ChatTemplateLimits chatTemplateLimits() {
        return new ChatTemplateLimits(
                chatTemplateTimeoutMs,
                chatTemplateMaxSteps,
                chatTemplateMaxOutputChars,
                chatTemplateMaxCollectionSize,
                chatTemplateMaxAllocatedBytes,
                chatTemplateMaxDepth);
    }

    /** The scheduler settings (validated by {@link Scheduler.Config}: a bad value fails model loading with its name). */
    public Scheduler.Config schedulerConfig() {
        return new Scheduler.Config(
                kvCacheBytes, maxQueue, prefillChunkTokens, maxBatchSequences, prefixCachingEnabled);
    }

    /**
     * The scheduler settings of {@code name@version}: {@link #schedulerConfig()} with its speculative decoding (none
     * when the method is {@code draft} and the version has no draft model).
     *
     * @throws IllegalArgumentException naming the key of a value out of range
     */
    public Scheduler.Config schedulerConfig(String name, String version) {
        Speculation.Method method = speculativeMethod();
        if (method == Speculation.Method.DRAFT && draftModel(name, version).isEmpty()) method = Speculation.Method.NONE;
        try {
            return schedulerConfig()
                    .withSpeculation(new Speculation(
                            method,
                            speculativeMaxDraftTokens,
                            speculativeNgramMin,
                            speculativeNgramMax,
                            speculativeDraftKvCacheBytes,
                            speculativeDraftMinProbability));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "anvil.serving.speculative.max-draft-tokens/ngram-min/ngram-max/draft-kv-cache-bytes/"
                            + "draft-min-probability: "
                            + e.getMessage(),
                    e);
        }
    }

    /** The configured speculation method. */
    public Speculation.Method speculativeMethod() {
        String m = speculativeMethod == null ? "none" : speculativeMethod.trim().toUpperCase(java.util.Locale.ROOT);
        try {
            return Speculation.Method.valueOf(m);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "anvil.serving.speculative.method must be none, ngram or draft; got '" + speculativeMethod + "'");
        }
    }

    /**
     * The draft model ({@code name@version}) that speculates for {@code name@version}, when the method is
     * {@code draft} and {@code anvil.serving.speculative.draft-models} names one (an entry for the exact version wins
     * over one for the model).
     *
     * @throws IllegalArgumentException for an entry that is not {@code target[@version]=draft@version}
     */
    public Optional<String> draftModel(String name, String version) {
        if (speculativeMethod() != Speculation.Method.DRAFT) return Optional.empty();
        String forModel = null;
        for (String entry :
                speculativeDraftModels == null ? List.<String>of() : speculativeDraftModels.orElse(List.of())) {
            String[] parts = entry.trim().split("=", -1);
            if (parts.length != 2 || parts[0].isBlank() || !parts[1].trim().matches("[^@\\s]+@[^@\\s]+")) {
                throw new IllegalArgumentException("anvil.serving.speculative.draft-models entry '" + entry
                        + "' must be target@version=draft@version or target=draft@version");
            }
            String target = parts[0].trim(), draft = parts[1].trim();
            if (target.equals(name + "@" + version)) return Optional.of(draft);
            if (target.equals(name)) forModel = draft;
        }
        return Optional.ofNullable(forModel);
    }
}
