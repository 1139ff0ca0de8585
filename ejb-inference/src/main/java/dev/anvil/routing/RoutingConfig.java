package dev.anvil.routing;

import dev.anvil.config.ConfigBounds;
import dev.anvil.routing.domain.CostRouter;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Initialized;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Every {@code anvil.routing.*} key (MicroProfile Config), with its default: the bounds of cost-aware router
 * definitions ({@code /api/routers}) and how the request path reads and learns them. Every value is checked when the
 * application starts ({@link #validate}): one out of its range fails the deployment with a message naming the key,
 * the range and the value, so a mistyped setting never reaches a request.
 */
@ApplicationScoped
public class RoutingConfig {

    /** Routers that may be defined (409 {@code too_many_routers} beyond). */
    @Inject
    @ConfigProperty(name = "anvil.routing.max-routers", defaultValue = "256")
    int maxRouters;

    /** Candidates one router may list. */
    @Inject
    @ConfigProperty(name = "anvil.routing.max-candidates", defaultValue = "8")
    int maxCandidates;

    /** Tenant policies one router may hold. */
    @Inject
    @ConfigProperty(name = "anvil.routing.max-tenant-policies", defaultValue = "256")
    int maxTenantPolicies;

    /** Characters of one router's stored JSON definition (the column holds {@value CostRouter#MAX_DEFINITION}). */
    @Inject
    @ConfigProperty(name = "anvil.routing.max-definition-chars", defaultValue = "16000")
    int maxDefinitionChars;

    /** Longest time the request path reuses its snapshot of the routers (another node's changes show after it). */
    @Inject
    @ConfigProperty(name = "anvil.routing.refresh-ms", defaultValue = "5000")
    long refreshMs;

    /** Requests a router must have observed a candidate answer before its own latency replaces the priors. */
    @Inject
    @ConfigProperty(name = "anvil.routing.latency-min-observations", defaultValue = "5")
    int latencyMinObservations;

    /** Reads every setting once at deployment, so a bad value stops the start instead of a later request. */
    void validate(@Observes @Initialized(ApplicationScoped.class) Object ignored) {
        limits();
        maxRouters();
        maxDefinitionChars();
        refreshMs();
        latencyMinObservations();
    }

    public int maxRouters() {
        return ConfigBounds.within("anvil.routing.max-routers", maxRouters, 1, 100_000);
    }

    public int maxCandidates() {
        return ConfigBounds.within("anvil.routing.max-candidates", maxCandidates, 2, 64);
    }

    public int maxTenantPolicies() {
        return ConfigBounds.within("anvil.routing.max-tenant-policies", maxTenantPolicies, 0, 10_000);
    }

    public int maxDefinitionChars() {
        return ConfigBounds.within(
                "anvil.routing.max-definition-chars", maxDefinitionChars, 256, CostRouter.MAX_DEFINITION);
    }

    public long refreshMs() {
        return ConfigBounds.within("anvil.routing.refresh-ms", refreshMs, 100L, 3_600_000L);
    }

    public int latencyMinObservations() {
        return ConfigBounds.within("anvil.routing.latency-min-observations", latencyMinObservations, 1, 10_000);
    }

    /** The bounds a definition is checked against ({@link RouterSpec#problems}). */
    public RouterSpec.Limits limits() {
        return new RouterSpec.Limits(maxCandidates(), maxTenantPolicies());
    }
}
