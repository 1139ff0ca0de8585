package dev.anvil.registry;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.Tag;

/**
 * Application metrics of the registry (MicroProfile Metrics, application scope): registrations and stage
 * transitions counted by outcome. In Prometheus: {@code anvil_registry_registrations_total{outcome=...}} and
 * {@code anvil_registry_stage_transitions_total{stage=...,outcome=...}}.
 */
@ApplicationScoped
public class RegistryMetrics {

    static final String REGISTRATIONS = "anvil.registry.registrations";
    static final String TRANSITIONS = "anvil.registry.stage.transitions";

    private static final Metadata REGISTRATIONS_METADATA = Metadata.builder()
            .withName(REGISTRATIONS)
            .withDescription(
                    "Model version registrations by outcome (created, bad_request, not_found, conflict, unavailable, error)")
            .build();
    private static final Metadata TRANSITIONS_METADATA = Metadata.builder()
            .withName(TRANSITIONS)
            .withDescription("Requested stage transitions by target stage and outcome")
            .build();

    @Inject
    MetricRegistry registry;

    public void registration(String outcome) {
        registry.counter(REGISTRATIONS_METADATA, new Tag("outcome", outcome)).inc();
    }

    public void transition(String stage, String outcome) {
        registry.counter(TRANSITIONS_METADATA, new Tag("stage", stage), new Tag("outcome", outcome))
                .inc();
    }

    /** The outcome label of a failure: the registry's kind in lower case, or "error" for anything unexpected. */
    static String outcomeOf(RuntimeException e) {
        return e instanceof RegistryException r ? r.kind().name().toLowerCase(java.util.Locale.ROOT) : "error";
    }
}
