package dev.anvil.routing;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Tunables of version loading on demand, experiment routing and the experiment controller (MicroProfile Config;
 * system properties, {@code ANVIL_...} environment variables or the server's {@code configuration/anvil/} files).
 */
@ApplicationScoped
public class RoutingConfig {

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

    /** Milliseconds between runs of the experiment controller (canary steps and rollbacks, bandit rebalancing). */
    @Inject
    @ConfigProperty(name = "anvil.experiments.controller-interval-ms", defaultValue = "10000")
    long controllerIntervalMs;

    /** Milliseconds the router reuses its list of RUNNING experiments before reading it again. */
    @Inject
    @ConfigProperty(name = "anvil.experiments.routing-refresh-ms", defaultValue = "1000")
    long routingRefreshMs;

    /** Percent of a SHADOW experiment's requests that are copied to its shadow variants. */
    @Inject
    @ConfigProperty(name = "anvil.experiments.shadow-percent", defaultValue = "100")
    int shadowPercent;

    /** Cost recorded per 1,000 tokens (prompt + completion) of an experiment response; 0 = cost unknown. */
    @Inject
    @ConfigProperty(name = "anvil.experiments.cost-per-1k-tokens", defaultValue = "0")
    double costPer1kTokens;

    /** Outcomes waiting to be written; beyond it new ones are dropped (counted) rather than slowing responses. */
    @Inject
    @ConfigProperty(name = "anvil.experiments.outcome-queue", defaultValue = "10000")
    int outcomeQueue;

    public int maxExtraLoadedVersions() { return Math.max(0, maxExtraLoadedVersions); }
    public int onDemandLoadWaitSeconds() { return Math.max(0, onDemandLoadWaitSeconds); }
    public List<String> faultInjection() { return faultInjection == null ? List.of() : faultInjection.orElse(List.of()); }
    public long controllerIntervalMs() { return Math.max(50, controllerIntervalMs); }
    public long routingRefreshMs() { return Math.max(0, routingRefreshMs); }
    public int shadowPercent() { return Math.max(0, Math.min(100, shadowPercent)); }
    public double costPer1kTokens() { return Math.max(0, costPer1kTokens); }
    public int outcomeQueue() { return Math.max(1, outcomeQueue); }
}
