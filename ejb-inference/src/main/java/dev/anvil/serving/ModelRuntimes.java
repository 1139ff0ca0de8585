package dev.anvil.serving;

import jakarta.annotation.PreDestroy;
import jakarta.annotation.Resource;
import jakarta.ejb.ConcurrencyManagement;
import jakarta.ejb.ConcurrencyManagementType;
import jakarta.ejb.Singleton;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.enterprise.concurrent.ManagedExecutorService;
import jakarta.enterprise.concurrent.ManagedThreadFactory;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The loaded model versions and which one serves each model name. Swapping the serving version is one map
 * write: requests resolved before it keep their runtime (which drains), requests after it get the new one.
 */
@Singleton
@ConcurrencyManagement(ConcurrencyManagementType.BEAN)
// Loading a large model can outlast a transaction timeout, and nothing here touches the database.
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
public class ModelRuntimes {

    private static final Logger LOG = Logger.getLogger(ModelRuntimes.class.getName());

    @Resource(lookup = "java:jboss/ee/concurrency/executor/anvil-batching")
    ManagedExecutorService batching;

    @Resource(lookup = "java:jboss/ee/concurrency/factory/anvil-engine")
    ManagedThreadFactory engineThreads;

    @Inject
    ServingConfig config;

    @Inject
    ServingMetrics metrics;

    /** Model name → the runtime that serves it. */
    private final Map<String, ModelRuntime> serving = new ConcurrentHashMap<>();
    /** Every runtime not yet unloaded (serving, warming, draining). */
    private final List<ModelRuntime> all = new CopyOnWriteArrayList<>();

    /** Loads, starts and warms up a version without giving it traffic yet. */
    public ModelRuntime load(String name, String version, Path path, Instant createdAt, String owner) throws Exception {
        long t0 = System.nanoTime();
        ModelRuntime runtime = ModelRuntime.load(name, version, path, createdAt, owner, engineThreads, config);
        all.add(runtime);
        runtime.stopped().whenComplete((v, e) -> {
            all.remove(runtime);
            metrics.unregister(runtime);
        });
        runtime.start(batching, config.loopStartTimeoutSeconds());
        metrics.register(runtime);
        try {
            if (config.warmupEnabled()) runtime.warmUp(config.warmupTokens());
        } catch (Exception e) {
            runtime.stop();
            throw e;
        }
        LOG.info(() -> String.format("Loaded %s from %s in %.1f s (%d compute threads, %d KV blocks)", runtime.ref(), path,
                (System.nanoTime() - t0) / 1e9, config.engineThreads(), runtime.scheduler().kvCache().totalBlocks()));
        return runtime;
    }

    /**
     * Gives {@code runtime} the traffic of its model name; the runtime it replaces (if any) stops taking requests,
     * finishes those in flight and is unloaded.
     */
    public void activate(ModelRuntime runtime) {
        runtime.markServing();
        ModelRuntime previous = serving.put(runtime.served().name(), runtime);
        LOG.info(() -> "Serving " + runtime.ref() + (previous == null ? "" : " (replacing " + previous.ref() + ", which drains)"));
        if (previous != null && previous != runtime) previous.retire(config.drainTimeoutSeconds());
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

    /** The runtime of exactly {@code name@version} if it is loaded and serving or warming, else null. */
    public ModelRuntime loaded(String name, String version) {
        for (ModelRuntime r : all) {
            if (r.served().name().equals(name) && r.served().version().equals(version)
                    && r.state() != ModelRuntime.State.DRAINING && r.state() != ModelRuntime.State.STOPPED) {
                return r;
            }
        }
        return null;
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
