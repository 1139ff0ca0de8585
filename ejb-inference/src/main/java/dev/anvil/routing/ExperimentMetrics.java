package dev.anvil.routing;

import dev.anvil.metrics.MetricMetadata;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;
import org.eclipse.microprofile.metrics.Tag;

/**
 * Experiment traffic in {@code /metrics}, tagged {@code experiment} and {@code variant}:
 * <ul>
 *   <li>{@code anvil_experiment_requests_total{outcome=ok|error}}: live requests served by each variant</li>
 *   <li>{@code anvil_experiment_latency_seconds}: timer (quantiles) of their latency, routing to last token</li>
 *   <li>{@code anvil_experiment_shadow_requests_total{outcome=ok|error|skipped}}: shadow copies</li>
 *   <li>{@code anvil_experiment_outcomes_dropped_total} (untagged): measurements dropped because the write queue was full</li>
 * </ul>
 */
@ApplicationScoped
public class ExperimentMetrics {

    static final Metadata REQUESTS = MetricMetadata.of(
            "anvil.experiment.requests", "Live requests served by an experiment variant", MetricUnits.NONE);
    static final Metadata LATENCY = MetricMetadata.of(
            "anvil.experiment.latency", "Latency of requests served by an experiment variant", MetricUnits.SECONDS);
    static final Metadata SHADOW = MetricMetadata.of(
            "anvil.experiment.shadow.requests", "Shadow copies run for a shadow variant", MetricUnits.NONE);
    static final Metadata DROPPED = MetricMetadata.of(
            "anvil.experiment.outcomes.dropped", "Experiment measurements dropped: write queue full", MetricUnits.NONE);

    @Inject
    MetricRegistry registry;

    /** The drop counter is visible at 0 from the first use, so that an alert on it has a series to watch. */
    @PostConstruct
    void registerDropped() {
        registry.counter(DROPPED);
    }

    public void served(String experiment, String variant, boolean error, long latencyNanos) {
        registry.counter(REQUESTS, tags(experiment, variant, error ? "error" : "ok"))
                .inc();
        registry.timer(LATENCY, new Tag("experiment", experiment), new Tag("variant", variant))
                .update(Duration.ofNanos(latencyNanos));
    }

    public void shadow(String experiment, String variant, String outcome) {
        registry.counter(SHADOW, tags(experiment, variant, outcome)).inc();
    }

    public void dropped() {
        registry.counter(DROPPED).inc();
    }

    private static Tag[] tags(String experiment, String variant, String outcome) {
        return new Tag[] {new Tag("experiment", experiment), new Tag("variant", variant), new Tag("outcome", outcome)};
    }
}
