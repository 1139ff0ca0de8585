package dev.anvil.routing;

import dev.anvil.experiments.AssignmentInfo;
import dev.anvil.experiments.ExperimentException;
import dev.anvil.experiments.ExperimentService;
import dev.anvil.experiments.ExperimentsChanged;
import dev.anvil.experiments.ExperimentsConfig;
import dev.anvil.experiments.LiveExperiment;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.TransactionPhase;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Stage 3 of a {@code /v1} request: picks the variant of the RUNNING (or PAUSED) experiment that covers a plain
 * model name. {@code name@version} is never routed (pinning bypasses experiments). The routable experiments are a
 * snapshot re-read every {@code anvil.experiments.routing-refresh-ms} and at once after any experiment change
 * commits, so routing costs no database read per request; the only write on the path is an A/B subject's first
 * assignment (sticky from then on, cached here).
 */
@ApplicationScoped
public class ExperimentRouter {

    private static final Logger LOG = Logger.getLogger(ExperimentRouter.class.getName());
    /** Assignments cached per router; beyond this the cache starts over (entries are re-read from the database). */
    static final int MAX_CACHED_ASSIGNMENTS = 100_000;

    @EJB
    ExperimentService experiments;

    @Inject
    ExperimentsConfig config;

    private volatile Map<String, LiveExperiment> byModel = Map.of();
    private volatile long loadedAtNanos;
    private volatile boolean stale = true;
    /** experiment id + NUL + subject key -> variant name, for A/B subjects already assigned. */
    private final Map<String, String> assignments = new ConcurrentHashMap<>();

    void onExperimentChanged(@Observes(during = TransactionPhase.AFTER_SUCCESS) ExperimentsChanged change) {
        stale = true;
    }

    /**
     * The route for {@code model} and the caller's subject key (may be null), or null when no experiment covers it.
     * Never fails the request: if experiments cannot be read, the last snapshot (or no routing) applies.
     */
    public Route route(String model, String subjectKey) {
        long now = System.nanoTime();
        if (model == null || model.indexOf('@') >= 0) return null;
        LiveExperiment e = snapshot(now).get(model);
        if (e == null) return null;
        String key = subjectKey == null || subjectKey.isBlank() || subjectKey.length() > 512 ? null : subjectKey;
        LiveExperiment.Variant chosen = VariantPicker.pick(e, key, ThreadLocalRandom.current());
        if (e.running() && "AB".equals(e.strategy()) && key != null) chosen = recordedAssignment(e, key, chosen);
        List<Route.Shadow> shadows = new ArrayList<>();
        if (e.running()
                && "SHADOW".equals(e.strategy())
                && ThreadLocalRandom.current().nextInt(100) < config.shadowPercent()) {
            for (LiveExperiment.Variant v : e.variants()) {
                if (!v.control())
                    shadows.add(new Route.Shadow(
                            v.id(), v.name(), v.modelVersion(), v.temperature(), v.topP(), v.maxTokens()));
            }
        }
        return new Route(
                e.id(),
                e.name(),
                e.strategy(),
                chosen.id(),
                chosen.name(),
                e.model(),
                chosen.modelVersion(),
                chosen.temperature(),
                chosen.topP(),
                chosen.maxTokens(),
                chosen.systemPrompt(),
                shadows,
                e.running(),
                now);
    }

    /** The subject's recorded variant (recording it now if this is its first request). */
    private LiveExperiment.Variant recordedAssignment(LiveExperiment e, String key, LiveExperiment.Variant picked) {
        String cacheKey = e.id() + "\u0000" + key;
        String cached = assignments.get(cacheKey);
        if (cached == null) {
            try {
                AssignmentInfo a = experiments.assign(e.name(), key);
                cached = a.variant().name();
                if (assignments.size() >= MAX_CACHED_ASSIGNMENTS) assignments.clear();
                assignments.put(cacheKey, cached);
            } catch (ExperimentException | jakarta.ejb.EJBException ex) {
                // E.g. paused between snapshot and lookup: serve by the hash bucket, which is the same pick.
                LOG.log(Level.FINE, "assignment lookup in " + e.name() + " failed; serving by hash bucket", ex);
                return picked;
            }
        }
        LiveExperiment.Variant v = e.variant(cached);
        return v == null ? picked : v;
    }

    private Map<String, LiveExperiment> snapshot(long now) {
        if (!stale && now - loadedAtNanos < config.routingRefreshMs() * 1_000_000L) return byModel;
        synchronized (this) {
            if (!stale && now - loadedAtNanos < config.routingRefreshMs() * 1_000_000L) return byModel;
            stale = false;
            try {
                List<LiveExperiment> live = new ArrayList<>(experiments.routable());
                // One experiment routes a model: a RUNNING one before a PAUSED one, then by name.
                live.sort(
                        Comparator.comparing((LiveExperiment x) -> !x.running()).thenComparing(LiveExperiment::name));
                Map<String, LiveExperiment> map = new HashMap<>();
                for (LiveExperiment x : live) map.putIfAbsent(x.model(), x);
                byModel = Map.copyOf(map);
            } catch (ExperimentException | jakarta.ejb.EJBException | jakarta.persistence.PersistenceException ex) {
                LOG.log(Level.FINE, "experiments cannot be read; routing by the last snapshot", ex);
            }
            loadedAtNanos = System.nanoTime();
            return byModel;
        }
    }
}
