package dev.anvil.drift;

import dev.anvil.metrics.MetricMetadata;
import dev.anvil.registry.VersionEvents;
import dev.anvil.registry.domain.VersionEvent;
import dev.anvil.serving.ModelVersionUnloaded;
import dev.anvil.serving.ServedModel;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;
import java.util.logging.Logger;
import org.eclipse.microprofile.metrics.MetricID;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;
import org.eclipse.microprofile.metrics.Tag;

/**
 * Drift detection for every served generation version (in memory, per server: windows start again when the server
 * restarts or the version is unloaded). Finished requests are observed ({@link #observe}) and rated
 * ({@link #feedback}); every {@code anvil.drift.evaluate-every} observations the version's features are compared
 * with its reference ({@link VersionDrift#evaluate}); a feature entering or leaving breach is logged and recorded in
 * the version's history ({@link VersionEvents}, off the request path). Metrics per version and feature:
 * {@code anvil_drift_psi}, {@code anvil_drift_kl} (NaN until both windows hold min-samples) and
 * {@code anvil_drift_breached} (0/1), as of the last evaluation.
 */
@ApplicationScoped
public class DriftMonitor {

    private static final Logger LOG = Logger.getLogger(DriftMonitor.class.getName());
    static final String ACTOR = "anvil-drift";
    static final String PSI = "anvil.drift.psi";
    static final String KL = "anvil.drift.kl";
    static final String BREACHED = "anvil.drift.breached";
    /** Responses remembered for their ratings: about a few minutes of traffic on a busy server. */
    static final int RECENT_RESPONSES = 20_000;

    @Inject
    DriftConfig config;

    @Inject
    MetricRegistry registry;

    @EJB
    VersionEvents events;

    @EJB
    dev.anvil.serving.InferenceService inference;

    Clock clock = Clock.systemUTC();

    private final Map<String, VersionDrift> versions = new ConcurrentHashMap<>();

    /** Response id → the version that answered it (bounded, oldest forgotten first). */
    private final Map<String, String> recent = new LinkedHashMap<>(1024, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
            return size() > RECENT_RESPONSES;
        }
    };

    /** A finished request of {@code model}, answered under {@code responseId}. */
    public void observe(ServedModel model, String responseId, DriftObservation observation) {
        if (!config.enabled()) return;
        VersionDrift drift = versions.computeIfAbsent(model.ref(), ref -> register(model));
        long seen = drift.observe(observation);
        if (responseId != null) {
            synchronized (recent) {
                recent.put(responseId, model.ref());
            }
        }
        if (seen % config.evaluateEvery() == 0) publish(model.name(), model.version(), drift.evaluate());
    }

    /**
     * A finished request's prompt text, for the {@code prompt_embedding} feature when {@code anvil.drift.embedding-model}
     * is set: embedded asynchronously (the caller never waits), then added to the version's windows; a prompt that
     * cannot be embedded now (model not served, queue full) is skipped.
     */
    public void observePrompt(ServedModel model, String text) {
        if (!config.enabled() || text == null || text.isBlank()) return;
        String name = config.embeddingModel().orElse(null);
        if (name == null) return;
        VersionDrift drift = versions.get(model.ref());
        if (drift == null) return;
        try {
            inference.embedText(name, text).whenComplete((vector, error) -> {
                if (error == null) drift.promptEmbedding(vector);
                else LOG.fine(() -> "drift: prompt not embedded by " + name + ": " + error);
            });
        } catch (dev.anvil.serving.InferenceException e) {
            if (e.kind() == dev.anvil.serving.InferenceException.Kind.INVALID) {
                LOG.warning("anvil.drift.embedding-model: " + e.getMessage()); // misconfigured: say so
            } else {
                LOG.fine(() -> "drift: prompt not embedded by " + name + ": " + e);
            }
        } catch (RuntimeException e) {
            LOG.fine(() -> "drift: prompt not embedded by " + name + ": " + e);
        }
    }

    /** A rating of a response: counted for the version that answered it, when it is one of the recent ones. */
    public void feedback(String responseId, boolean negative) {
        String ref;
        synchronized (recent) {
            ref = recent.get(responseId);
        }
        VersionDrift drift = ref == null ? null : versions.get(ref);
        if (drift != null) drift.feedback(negative);
    }

    /** The version's current statistics (computed now), or null when it has served nothing since it was loaded. */
    public VersionDrift.Report report(String model, String version) {
        VersionDrift drift = versions.get(model + "@" + version);
        if (drift == null) return null;
        VersionDrift.Report report = drift.evaluate();
        publish(model, version, report);
        return report;
    }

    /** Every watched version's last statistics, by {@code name@version}. */
    public Map<String, VersionDrift.Report> reports() {
        Map<String, VersionDrift.Report> reports = new TreeMap<>();
        versions.forEach((ref, drift) -> {
            VersionDrift.Report report = drift.evaluate();
            int at = ref.lastIndexOf('@');
            publish(ref.substring(0, at), ref.substring(at + 1), report); // an evaluation's changes are always told
            reports.put(ref, report);
        });
        return reports;
    }

    /**
     * Makes the version's current traffic its reference; recorded in its history with the operator and reason.
     *
     * @return false when the version has served nothing since it was loaded
     */
    public boolean pinReference(String model, String version, String actor, String reason) {
        VersionDrift drift = versions.get(model + "@" + version);
        if (drift == null) return false;
        drift.pinReference(clock.instant());
        events.record(
                model,
                version,
                VersionEvent.Kind.DRIFT_REFERENCE_PINNED,
                actor,
                "drift reference re-pinned to the current traffic" + (reason == null ? "" : ": " + reason));
        return true;
    }

    /** Forgets an unloaded version's windows and metrics. */
    void onUnloaded(@Observes ModelVersionUnloaded event) {
        String ref = event.model() + "@" + event.version();
        if (versions.remove(ref) != null) {
            Tag[] base = {new Tag("model", event.model()), new Tag("version", event.version())};
            for (DriftFeature f : DriftFeature.values()) {
                Tag[] tags = tags(base, f);
                for (String name : new String[] {PSI, KL, BREACHED}) registry.remove(new MetricID(name, tags));
            }
        }
    }

    private void publish(String model, String version, VersionDrift.Report report) {
        for (DriftFeature f : report.newlyBreached()) {
            String detail = describe(report, f, "drift detected");
            LOG.warning(model + "@" + version + ": " + detail);
            events.record(model, version, VersionEvent.Kind.DRIFT_DETECTED, ACTOR, detail);
        }
        for (DriftFeature f : report.cleared()) {
            String detail = describe(report, f, "drift cleared");
            LOG.info(model + "@" + version + ": " + detail);
            events.record(model, version, VersionEvent.Kind.DRIFT_CLEARED, ACTOR, detail);
        }
    }

    static String describe(VersionDrift.Report report, DriftFeature f, String what) {
        VersionDrift.FeatureReport r = report.features().get(f.ordinal());
        DriftStatistics.Comparison c = r.comparison();
        return String.format(
                Locale.ROOT,
                "%s on %s: PSI %.3f, KL %.3f (reference %d since %s, current %d)",
                what,
                f.wireName(),
                c.psi(),
                c.kl(),
                r.referenceCount(),
                report.referenceSince(),
                r.currentCount());
    }

    private VersionDrift register(ServedModel model) {
        VersionDrift drift = new VersionDrift(config.settings(), clock.instant());
        Tag[] base = {new Tag("model", model.name()), new Tag("version", model.version())};
        for (DriftFeature f : DriftFeature.values()) {
            Tag[] tags = tags(base, f);
            gauge(
                    PSI,
                    "Population Stability Index of a traffic feature against the version's reference",
                    drift,
                    f,
                    c -> c.psi(),
                    tags);
            gauge(
                    KL,
                    "KL divergence of a traffic feature's current window from the version's reference",
                    drift,
                    f,
                    c -> c.kl(),
                    tags);
            registry.gauge(
                    MetricMetadata.of(
                            BREACHED, "Whether a traffic feature has drifted (1) or not (0)", MetricUnits.NONE),
                    drift,
                    d -> {
                        VersionDrift.FeatureReport r = d.lastReport(f);
                        return r != null && r.breached() ? 1 : 0;
                    },
                    tags);
        }
        return drift;
    }

    private void gauge(
            String name,
            String description,
            VersionDrift drift,
            DriftFeature f,
            ToDoubleFunction<DriftStatistics.Comparison> value,
            Tag[] tags) {
        registry.gauge(
                MetricMetadata.of(name, description, MetricUnits.NONE),
                drift,
                d -> {
                    VersionDrift.FeatureReport r = d.lastReport(f);
                    return r == null || r.comparison() == null ? Double.NaN : value.applyAsDouble(r.comparison());
                },
                tags);
    }

    private static Tag[] tags(Tag[] base, DriftFeature f) {
        return new Tag[] {base[0], base[1], new Tag("feature", f.wireName())};
    }
}
