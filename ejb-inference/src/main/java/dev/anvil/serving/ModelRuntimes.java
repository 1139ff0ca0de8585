package dev.anvil.serving;

import dev.anvil.registry.ModelRegistry;
import dev.anvil.registry.ModelVersionInfo;
import dev.anvil.registry.RegistryException;
import dev.anvil.registry.domain.Stage;
import jakarta.annotation.PreDestroy;
import jakarta.annotation.Resource;
import jakarta.annotation.security.PermitAll;
import jakarta.ejb.ConcurrencyManagement;
import jakarta.ejb.ConcurrencyManagementType;
import jakarta.ejb.EJB;
import jakarta.ejb.Schedule;
import jakarta.ejb.Singleton;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.enterprise.concurrent.ManagedExecutorService;
import jakarta.enterprise.concurrent.ManagedThreadFactory;
import jakarta.enterprise.event.Event;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The loaded model versions and which one serves each model name. Swapping the serving version is one map
 * write: requests resolved before it keep their runtime (which drains), requests after it get the new one.
 *
 * <p>Besides each model's PRODUCTION version, up to {@code anvil.serving.max-extra-loaded-versions} other versions
 * stay loaded ("extras": versions pinned by {@code name@version}, experiment variants, blue-green standbys). A
 * request for a registered version that is not loaded starts its load ({@link #acquire}); concurrent requests
 * share that one load. Beyond the bound, the least recently used extra with nothing in flight is unloaded.
 */
@Singleton
@ConcurrencyManagement(ConcurrencyManagementType.BEAN)
// Loading a large model can outlast a transaction timeout, and nothing here touches the database.
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
@PermitAll
public class ModelRuntimes {

    private static final Logger LOG = Logger.getLogger(ModelRuntimes.class.getName());

    @Resource(lookup = "java:jboss/ee/concurrency/executor/anvil-batching")
    ManagedExecutorService batching;

    @Resource(lookup = "java:jboss/ee/concurrency/factory/anvil-engine")
    ManagedThreadFactory engineThreads;

    @Inject
    ServingConfig config;

    /** Null outside CDI (unit tests): the defaults. */
    @Inject
    EmbeddingConfig embeddingConfig;

    @Inject
    ServingMetrics metrics;

    @EJB
    ModelRegistry registry;

    /** Tells observers (the response cache) that a version is gone. */
    @Inject
    Event<ModelVersionUnloaded> unloaded;

    /** Where on-demand loads run, so a request that stops waiting does not abort the load. */
    @Resource
    jakarta.enterprise.concurrent.ManagedExecutorService loads;

    /** "name@version" → loaded non-PRODUCTION runtime, least recently used first. Guarded by itself. */
    private final LinkedHashMap<String, ModelRuntime> extras = new LinkedHashMap<>(16, 0.75f, true);
    /** "name@version" → its load in progress (one per version however many requests ask). */
    private final Map<String, CompletableFuture<ModelRuntime>> loading = new ConcurrentHashMap<>();

    /** Model name → the runtime that serves it. */
    private final Map<String, ModelRuntime> serving = new ConcurrentHashMap<>();
    /** Every runtime not yet unloaded (serving, warming, draining). */
    private final List<ModelRuntime> all = new CopyOnWriteArrayList<>();
    /** Loads in progress and recently finished, with how much of their weights is read (the serving API's view). */
    private final ModelLoads loadProgress = new ModelLoads();

    /** The loads in progress and those finished in the last minutes. */
    public List<ModelLoads.Status> loads() {
        return loadProgress.statuses();
    }

    /** Loads, starts and warms up a version without giving it traffic yet. */
    public ModelRuntime load(String name, String version, Path path, Instant createdAt, String owner) throws Exception {
        ModelLoads.Load progress = loadProgress.start(name, version);
        try {
            ModelRuntime runtime = load(name, version, path, createdAt, owner, progress);
            progress.loaded();
            return runtime;
        } catch (Exception | Error e) {
            progress.failed(e);
            throw e;
        }
    }

    private ModelRuntime load(
            String name, String version, Path path, Instant createdAt, String owner, ModelLoads.Load progress)
            throws Exception {
        long t0 = System.nanoTime();
        ModelRuntime runtime = ModelRuntime.load(
                name,
                version,
                path,
                createdAt,
                owner,
                engineThreads,
                config,
                embeddingConfig == null ? new EmbeddingConfig() : embeddingConfig,
                draftPath(name, version),
                progress);
        progress.phase(ModelLoads.Phase.STARTING);
        all.add(runtime);
        runtime.stopped().whenComplete((v, e) -> {
            all.remove(runtime);
            metrics.unregister(runtime);
            try {
                if (unloaded != null) unloaded.fire(new ModelVersionUnloaded(name, version));
            } catch (RuntimeException notified) {
                // At shutdown the observers may already be gone; nothing is left to tell then.
                LOG.log(Level.FINE, "unload of " + name + "@" + version + " not announced", notified);
            }
        });
        runtime.start(batching, config.loopStartTimeoutSeconds());
        metrics.register(runtime);
        try {
            if (config.warmupEnabled()) {
                progress.phase(ModelLoads.Phase.WARMING);
                runtime.warmUp(config.warmupTokens());
            }
        } catch (Exception e) {
            runtime.stop();
            throw e;
        }
        LOG.info(() -> String.format(
                "Loaded %s from %s in %.1f s (%d compute threads, %s)",
                runtime.ref(),
                path,
                (System.nanoTime() - t0) / 1e9,
                config.engineThreads(),
                runtime.scheduler() != null
                        ? runtime.scheduler().kvCache().totalBlocks() + " KV blocks"
                        : "embedding model, " + runtime.served().embedding().dimensions() + " dimensions"));
        return runtime;
    }

    /**
     * The file of the draft model the serving configuration names for {@code name@version}
     * ({@code anvil.serving.speculative.draft-models}), looked up in the registry; null when it names none.
     *
     * @throws IllegalStateException when the named draft is not a registered version
     */
    private Path draftPath(String name, String version) {
        String draft = config.draftModel(name, version).orElse(null);
        if (draft == null) return null;
        int at = draft.indexOf('@');
        try {
            return Path.of(registry.getVersion(draft.substring(0, at), draft.substring(at + 1))
                    .path());
        } catch (RegistryException e) {
            throw new IllegalStateException(
                    "the draft model " + draft + " of " + name + "@" + version
                            + " (anvil.serving.speculative.draft-models) is not a registered version: "
                            + e.getMessage(),
                    e);
        }
    }

    /**
     * Gives {@code runtime} the traffic of its model name; the runtime it replaces (if any) stops taking requests,
     * finishes those in flight and is unloaded.
     */
    public void activate(ModelRuntime runtime) {
        activate(runtime, false);
    }

    /**
     * Like {@link #activate(ModelRuntime)}; with {@code keepPreviousAsStandby} the replaced runtime stays loaded as
     * an extra (blue-green: switching back is then another map write), otherwise it drains and unloads.
     */
    public synchronized void activate(ModelRuntime runtime, boolean keepPreviousAsStandby) {
        runtime.markServing();
        synchronized (extras) {
            extras.remove(runtime.ref());
        }
        ModelRuntime previous = serving.put(runtime.served().name(), runtime);
        if (previous == null || previous == runtime) {
            LOG.info(() -> "Serving " + runtime.ref());
            return;
        }
        if (keepPreviousAsStandby) {
            LOG.info(() ->
                    "Serving " + runtime.ref() + " (replacing " + previous.ref() + ", which stays loaded as standby)");
            synchronized (extras) {
                extras.put(previous.ref(), previous);
            }
            evictIdleExtras();
        } else {
            LOG.info(() -> "Serving " + runtime.ref() + " (replacing " + previous.ref() + ", which drains)");
            previous.retire(config.drainTimeoutSeconds());
        }
    }

    /** Stops serving a model name altogether (its version left PRODUCTION with no successor). */
    public void deactivate(String name) {
        ModelRuntime previous = serving.remove(name);
        if (previous != null) {
            LOG.info(() -> "No longer serving " + previous.ref() + " (drains)");
            previous.retire(config.drainTimeoutSeconds());
        }
    }

    /** The runtime serving {@code name}, or null. */
    public ModelRuntime serving(String name) {
        return serving.get(name);
    }

    /**
     * The runtime of exactly {@code name@version} if it serves its name or is a loaded extra (touching its LRU
     * position), else null. Never loads.
     */
    public ModelRuntime loaded(String name, String version) {
        ModelRuntime r = serving.get(name);
        if (r != null && r.served().version().equals(version) && usable(r)) return r;
        synchronized (extras) {
            r = extras.get(name + "@" + version);
        }
        return r != null && usable(r) ? r : null;
    }

    private static boolean usable(ModelRuntime r) {
        return r.state() != ModelRuntime.State.DRAINING && r.state() != ModelRuntime.State.STOPPED;
    }

    /**
     * The runtime of {@code name@version}, loading it first if it is registered but not loaded. The caller waits
     * for the load up to {@code anvil.serving.on-demand-load-wait-seconds}; concurrent callers share one load.
     *
     * @throws InferenceException NOT_FOUND (no such model or version), INVALID (the version is ARCHIVED),
     *                            UNAVAILABLE with Retry-After (still loading after the wait, or the load failed)
     */
    public ModelRuntime acquire(String name, String version) {
        ModelRuntime r = loaded(name, version);
        if (r != null) return r;
        String ref = name + "@" + version;
        CompletableFuture<ModelRuntime> load = loading.get(ref);
        if (load == null) load = startLoadOnce(loadableVersion(name, version));
        return await(ref, load);
    }

    /** Starts loading {@code name@version} in the background if it is loadable and not loaded; never waits. */
    public void preload(String name, String version) {
        if (loaded(name, version) != null || loading.containsKey(name + "@" + version)) return;
        try {
            startLoadOnce(loadableVersion(name, version));
        } catch (InferenceException e) {
            LOG.fine(() -> "not preloading " + name + "@" + version + ": " + e.getMessage());
        }
    }

    private ModelVersionInfo loadableVersion(String name, String version) {
        ModelVersionInfo info;
        try {
            info = registry.getVersion(name, version);
        } catch (RegistryException e) {
            if (e.kind() == RegistryException.Kind.NOT_FOUND || e.kind() == RegistryException.Kind.BAD_REQUEST) {
                throw InferenceException.notFound(
                        "version " + version + " of model " + name + " is not registered" + notFoundHint(name),
                        "model");
            }
            throw InferenceException.unavailable("the registry cannot be read: " + e.getMessage(), 5);
        }
        if (info.stage() == Stage.ARCHIVED) {
            throw InferenceException.invalid(
                    "version " + version + " of model " + name + " is ARCHIVED and no longer serves;"
                            + " move it back to STAGING to use it, or pin another version",
                    "model");
        }
        return info;
    }

    private String notFoundHint(String name) {
        ModelRuntime current = serving.get(name);
        return current == null ? "" : " (it serves version " + current.served().version() + ", its PRODUCTION version)";
    }

    /** The load of {@code info}'s version: the one in progress, or a new one started here. */
    private CompletableFuture<ModelRuntime> startLoadOnce(ModelVersionInfo info) {
        String ref = info.model() + "@" + info.version();
        CompletableFuture<ModelRuntime> future = new CompletableFuture<>();
        CompletableFuture<ModelRuntime> running = loading.putIfAbsent(ref, future);
        if (running != null) return running;
        ModelRuntime already = loaded(info.model(), info.version());
        if (already != null) {
            // Finished between the caller's check and our claim.
            loading.remove(ref, future);
            future.complete(already);
            return future;
        }
        startLoad(info, future);
        return future;
    }

    private void startLoad(ModelVersionInfo info, CompletableFuture<ModelRuntime> future) {
        String ref = info.model() + "@" + info.version();
        String owner;
        try {
            owner = registry.getModel(info.model()).owner();
        } catch (RuntimeException e) {
            owner = null;
        }
        String modelOwner = owner == null ? "anvil" : owner;
        Executor executor = loads != null ? loads : Runnable::run;
        LOG.info(() -> "Loading " + ref + " on demand");
        executor.execute(() -> {
            try {
                ModelRuntime runtime =
                        load(info.model(), info.version(), Path.of(info.path()), info.createdAt(), modelOwner);
                runtime.markServing();
                synchronized (extras) {
                    extras.put(ref, runtime);
                }
                future.complete(runtime);
                evictIdleExtras();
            } catch (Throwable e) {
                LOG.log(Level.WARNING, "loading " + ref + " on demand failed", e);
                future.completeExceptionally(e);
            } finally {
                loading.remove(ref, future);
            }
        });
    }

    private ModelRuntime await(String ref, CompletableFuture<ModelRuntime> load) {
        int wait = config.onDemandLoadWaitSeconds();
        try {
            return load.get(wait, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw InferenceException.unavailable("model version " + ref + " is being loaded; retry shortly", 2);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw InferenceException.unavailable("interrupted while model version " + ref + " was loading", 2);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw InferenceException.unavailable(
                    "model version " + ref + " could not be loaded: "
                            + (cause == null ? e.getMessage() : cause.getMessage()),
                    5);
        }
    }

    /**
     * Takes {@code name@version} out of the extras if it is loaded there (for promotion to serving), else null.
     */
    public ModelRuntime takeExtra(String name, String version) {
        synchronized (extras) {
            ModelRuntime r = extras.get(name + "@" + version);
            if (r == null || !usable(r)) return null;
            extras.remove(name + "@" + version);
            return r;
        }
    }

    /** Unloads the extra {@code name@version} (after its in-flight requests), e.g. once it is ARCHIVED. */
    public void unloadExtra(String name, String version) {
        ModelRuntime r;
        synchronized (extras) {
            r = extras.remove(name + "@" + version);
        }
        if (r != null) {
            LOG.info(() -> "Unloading " + r.ref() + " (drains)");
            r.retire(config.drainTimeoutSeconds());
        }
    }

    /** The loaded non-PRODUCTION versions, least recently used first. */
    public List<ModelRuntime> extraRuntimes() {
        synchronized (extras) {
            return List.copyOf(extras.values());
        }
    }

    /**
     * Unloads least recently used extras with nothing waiting or running while there are more than the bound.
     * Busy ones are skipped (and retried by the periodic sweep), so no in-flight request is ever dropped.
     */
    public void evictIdleExtras() {
        int max = config.maxExtraLoadedVersions();
        List<ModelRuntime> evicted = new ArrayList<>();
        synchronized (extras) {
            int excess = extras.size() - max;
            for (Iterator<ModelRuntime> it = extras.values().iterator(); it.hasNext() && excess > 0; ) {
                ModelRuntime r = it.next();
                if (!usable(r)) {
                    it.remove();
                    excess--;
                } else if (r.isIdle()) {
                    it.remove();
                    evicted.add(r);
                    excess--;
                }
            }
        }
        for (ModelRuntime r : evicted) {
            LOG.info(() ->
                    "Unloading " + r.ref() + ": least recently used of more than " + max + " extra loaded versions");
            r.retire(config.drainTimeoutSeconds());
        }
    }

    @Schedule(hour = "*", minute = "*", second = "*/15", persistent = false, info = "anvil-extra-versions-sweep")
    void sweepExtras() {
        evictIdleExtras();
    }

    /** The serving runtimes, by model name. */
    public List<ModelRuntime> servingRuntimes() {
        List<ModelRuntime> list = new ArrayList<>(serving.values());
        list.sort(Comparator.comparing(ModelRuntime::ref));
        return list;
    }

    /** Every runtime not yet unloaded. */
    public List<ModelRuntime> allRuntimes() {
        return List.copyOf(all);
    }

    @PreDestroy
    void unloadAll() {
        serving.clear();
        synchronized (extras) {
            extras.clear();
        }
        List<ModelRuntime> runtimes = List.copyOf(all);
        for (ModelRuntime r : runtimes) r.stop();
        for (ModelRuntime r : runtimes) {
            try {
                r.stopped().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.log(Level.WARNING, "model " + r.ref() + " did not stop within 30 s", e);
            }
        }
    }
}
