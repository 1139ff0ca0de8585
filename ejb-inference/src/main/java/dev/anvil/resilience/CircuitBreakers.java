package dev.anvil.resilience;

import dev.anvil.metrics.MetricMetadata;
import dev.anvil.serving.ServedModel;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;
import org.eclipse.microprofile.metrics.Tag;

/**
 * One {@link VersionCircuitBreaker} per {@code name@version}, created at the version's first request, and the
 * resilience metrics: {@code anvil_resilience_breaker_state{model,version}} (0 closed, 1 open, 2 half-open),
 * {@code anvil_resilience_breaker_opened{model,version}} (a gauge: times opened) and
 * {@code anvil_resilience_fallbacks_total{model,version,reason,target}}.
 */
@ApplicationScoped
public class CircuitBreakers {

    private static final Metadata STATE_MD = MetricMetadata.of(
            "anvil.resilience.breaker.state",
            "Circuit breaker of a model version: 0 closed, 1 open, 2 half-open",
            MetricUnits.NONE);
    private static final Metadata OPENED_MD = MetricMetadata.of(
            "anvil.resilience.breaker.opened", "Times the circuit breaker of a model version opened", MetricUnits.NONE);
    private static final Metadata FALLBACKS_MD = MetricMetadata.of(
            "anvil.resilience.fallbacks",
            "Requests answered by a fallback, by reason and target (a model or 'message')",
            MetricUnits.NONE);

    private final Map<String, VersionCircuitBreaker> breakers = new ConcurrentHashMap<>();

    @Inject
    ResilienceConfig config;

    @Inject
    MetricRegistry registry;

    public VersionCircuitBreaker of(ServedModel model) {
        return breakers.computeIfAbsent(model.ref(), ref -> {
            VersionCircuitBreaker b = new VersionCircuitBreaker(config.breaker(), System::currentTimeMillis);
            Tag[] tags = {new Tag("model", model.name()), new Tag("version", model.version())};
            registry.gauge(STATE_MD, b, x -> x.state().code(), tags);
            registry.gauge(OPENED_MD, b, VersionCircuitBreaker::timesOpened, tags);
            return b;
        });
    }

    /** The state of {@code ref}'s breaker ({@code name@version}); CLOSED for a version that has none yet. */
    public String stateOf(String ref) {
        VersionCircuitBreaker b = breakers.get(ref);
        return b == null ? VersionCircuitBreaker.State.CLOSED.name() : b.state().name();
    }

    void fellBack(ServedModel from, FallbackReason reason, String target) {
        registry.counter(
                        FALLBACKS_MD,
                        new Tag("model", from.name()),
                        new Tag("version", from.version()),
                        new Tag("reason", reason.wireName()),
                        new Tag("target", target))
                .inc();
    }
}
