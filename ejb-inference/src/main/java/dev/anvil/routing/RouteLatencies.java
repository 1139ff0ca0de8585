package dev.anvil.routing;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The latency a router observed per candidate on its own requests: exponentially weighted means (weight
 * {@value #ALPHA} for the newest) of time to first token and time per output token. Until a candidate has
 * {@code minObservations} ({@code anvil.routing.latency-min-observations}) observations its definition's priors ({@code expectedTtftMs}, {@code expectedTpotMs})
 * stand in; a candidate with neither is not known (NaN) and fits any budget. Per server, in memory.
 */
public final class RouteLatencies {

    static final double ALPHA = 0.2;
    static final int DEFAULT_MIN_OBSERVATIONS = 5;
    /** Bound on the (router, model) pairs kept: routers × candidates, so a generous constant. */
    static final int MAX_ENTRIES = 10_000;

    private static final class Mean {
        double ttftMs;
        double tpotMs;
        long count;
    }

    private final ConcurrentHashMap<String, Mean> means = new ConcurrentHashMap<>();
    private final int minObservations;

    public RouteLatencies() {
        this(DEFAULT_MIN_OBSERVATIONS);
    }

    public RouteLatencies(int minObservations) {
        if (minObservations < 1) throw new IllegalArgumentException("minObservations must be >= 1");
        this.minObservations = minObservations;
    }

    public void observe(String router, String model, double ttftMs, double tpotMs) {
        if (!(ttftMs >= 0) || !(tpotMs >= 0)) return;
        String key = router + "\u0000" + model;
        if (means.size() >= MAX_ENTRIES && !means.containsKey(key)) return;
        Mean m = means.computeIfAbsent(key, k -> new Mean());
        synchronized (m) {
            if (m.count == 0) {
                m.ttftMs = ttftMs;
                m.tpotMs = tpotMs;
            } else {
                m.ttftMs += ALPHA * (ttftMs - m.ttftMs);
                m.tpotMs += ALPHA * (tpotMs - m.tpotMs);
            }
            m.count++;
        }
    }

    /** The candidate's estimated latency for {@code maxTokens} output tokens, in ms (NaN: not known). */
    public double estimateMs(String router, RouterSpec.Candidate c, Integer maxTokens) {
        Mean m = means.get(router + "\u0000" + c.model());
        if (m != null) {
            synchronized (m) {
                if (m.count >= minObservations) return RouteRules.estimateMs(m.ttftMs, m.tpotMs, maxTokens);
            }
        }
        if (c.expectedTtftMs() == null && c.expectedTpotMs() == null) return Double.NaN;
        return RouteRules.estimateMs(
                c.expectedTtftMs() == null ? 0 : c.expectedTtftMs(),
                c.expectedTpotMs() == null ? 0 : c.expectedTpotMs(),
                maxTokens);
    }

    /** A router was changed or removed: what it observed no longer describes it. */
    public void forget(String router) {
        means.keySet().removeIf(k -> k.startsWith(router + "\u0000"));
    }
}
