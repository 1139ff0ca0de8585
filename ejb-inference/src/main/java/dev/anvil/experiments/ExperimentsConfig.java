package dev.anvil.experiments;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Every {@code anvil.experiments.*} key (MicroProfile Config), with its default: experiment routing, the experiment
 * controller, shadow copies, outcome recording and bandit rebalancing.
 */
@ApplicationScoped
public class ExperimentsConfig {

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

    /** Least traffic share (percent) every variant of a BANDIT experiment keeps when Thompson sampling rebalances it. */
    @Inject
    @ConfigProperty(name = "anvil.experiments.bandit-floor-percent", defaultValue = "5")
    int banditFloorPercent;

    /** Outcomes waiting to be written; beyond it new ones are dropped (counted) rather than slowing responses. */
    @Inject
    @ConfigProperty(name = "anvil.experiments.outcome-queue", defaultValue = "10000")
    int outcomeQueue;

    public long controllerIntervalMs() {
        return Math.max(50, controllerIntervalMs);
    }

    public long routingRefreshMs() {
        return Math.max(0, routingRefreshMs);
    }

    public int shadowPercent() {
        return Math.max(0, Math.min(100, shadowPercent));
    }

    public double costPer1kTokens() {
        return Math.max(0, costPer1kTokens);
    }

    public int outcomeQueue() {
        return Math.max(1, outcomeQueue);
    }

    public int banditFloorPercent() {
        return banditFloorPercent;
    }
}
