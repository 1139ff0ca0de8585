package dev.anvil.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RouteRulesTest {

    private static final RouterSpec.Candidate SMALL = new RouterSpec.Candidate("small", 100, 64, 0.5, null, null);
    private static final RouterSpec.Candidate MEDIUM = new RouterSpec.Candidate("medium", 1000, 512, 0.8, null, null);
    private static final RouterSpec.Candidate LARGE = new RouterSpec.Candidate("large", null, null, null, null, null);

    private static RouterSpec spec(RouterSpec.Cascade cascade, RouterSpec.TenantPolicy... tenants) {
        return new RouterSpec(List.of(SMALL, MEDIUM, LARGE), List.of(tenants), cascade);
    }

    private static RouteRules.Decision choose(RouterSpec spec, int prompt, Integer maxTokens, double complexity) {
        return RouteRules.choose(
                spec, new RouteRules.Signals(prompt, maxTokens, complexity, null, null), c -> Double.NaN);
    }

    @Test
    void theCheapestCandidateTakesWhatItMay() {
        RouteRules.Decision d = choose(spec(null), 10, 16, 0.1);
        assertEquals("small", d.model());
        assertEquals("cheapest", d.reason());
        assertNull(d.escalateTo());
    }

    @Test
    void theFirstBrokenLimitOfTheCheapestCandidateIsTheReason() {
        assertEquals(List.of("medium", "prompt_tokens"), decided(choose(spec(null), 101, 16, 0.1)));
        assertEquals(List.of("medium", "max_tokens"), decided(choose(spec(null), 10, 65, 0.1)));
        assertEquals(List.of("medium", "complexity"), decided(choose(spec(null), 10, 16, 0.6)));
        // Beyond every limited candidate: the last one.
        assertEquals(List.of("large", "prompt_tokens"), decided(choose(spec(null), 5000, 16, 0.1)));
        // A request without max_tokens may run to the context's end: no max_tokens limit admits it.
        assertEquals(List.of("large", "max_tokens"), decided(choose(spec(null), 10, null, 0.1)));
    }

    @Test
    void aTenantPolicyRestrictsTheCandidates() {
        RouterSpec s = spec(null, new RouterSpec.TenantPolicy("premium", List.of("large")));
        RouteRules.Decision premium =
                RouteRules.choose(s, new RouteRules.Signals(10, 16, 0.1, null, "premium"), c -> Double.NaN);
        assertEquals(List.of("large", "tenant_policy"), decided(premium));
        RouteRules.Decision other =
                RouteRules.choose(s, new RouteRules.Signals(10, 16, 0.1, null, "other"), c -> Double.NaN);
        assertEquals(List.of("small", "cheapest"), decided(other));
        RouterSpec mid = spec(null, new RouterSpec.TenantPolicy("t", List.of("medium", "large")));
        assertEquals(
                List.of("medium", "tenant_policy"),
                decided(RouteRules.choose(mid, new RouteRules.Signals(10, 16, 0.1, null, "t"), c -> Double.NaN)));
    }

    @Test
    void aLatencyBudgetPrefersTheMostCapableCheaperCandidateThatFits() {
        Map<String, Double> ms = Map.of("small", 100.0, "medium", 400.0, "large", 5000.0);
        RouterSpec s = spec(null);
        RouteRules.Decision within =
                RouteRules.choose(s, new RouteRules.Signals(5000, 16, 0.1, 10_000L, null), c -> ms.get(c.model()));
        assertEquals(List.of("large", "prompt_tokens"), decided(within));
        RouteRules.Decision tight =
                RouteRules.choose(s, new RouteRules.Signals(5000, 16, 0.1, 500L, null), c -> ms.get(c.model()));
        assertEquals(List.of("medium", "latency_budget"), decided(tight));
        // Nothing fits: the fastest.
        RouteRules.Decision none =
                RouteRules.choose(s, new RouteRules.Signals(5000, 16, 0.1, 10L, null), c -> ms.get(c.model()));
        assertEquals(List.of("small", "latency_budget"), decided(none));
        // Unknown latency fits any budget.
        RouteRules.Decision unknown =
                RouteRules.choose(s, new RouteRules.Signals(5000, 16, 0.1, 10L, null), c -> Double.NaN);
        assertEquals(List.of("large", "prompt_tokens"), decided(unknown));
    }

    @Test
    void aCascadeEscalatesToTheLargestAllowedCandidate() {
        RouterSpec s = spec(new RouterSpec.Cascade(true, -1.0, null, null));
        assertEquals("large", choose(s, 10, 16, 0.1).escalateTo());
        assertNull(choose(s, 5000, 16, 0.1).escalateTo()); // already the largest
        assertNull(choose(spec(new RouterSpec.Cascade(false, -1.0, null, null)), 10, 16, 0.1)
                .escalateTo());
        RouterSpec limited = spec(
                new RouterSpec.Cascade(true, -1.0, null, null),
                new RouterSpec.TenantPolicy("t", List.of("small", "medium")));
        assertEquals(
                "medium",
                RouteRules.choose(limited, new RouteRules.Signals(10, 16, 0.1, null, "t"), c -> Double.NaN)
                        .escalateTo());
    }

    @Test
    void latencyEstimatesAddTimePerTokenForTheRequestsOutput() {
        assertEquals(100 + 5 * 20, RouteRules.estimateMs(100, 5, 20), 1e-9);
        assertEquals(100 + 5 * RouteRules.DEFAULT_ESTIMATE_TOKENS, RouteRules.estimateMs(100, 5, null), 1e-9);
        RouteLatencies latencies = new RouteLatencies();
        RouterSpec.Candidate prior = new RouterSpec.Candidate("m", null, null, null, 1000, 10);
        assertEquals(1000 + 10 * 4, latencies.estimateMs("r", prior, 4), 1e-9);
        for (int i = 0; i < RouteLatencies.DEFAULT_MIN_OBSERVATIONS; i++) latencies.observe("r", "m", 50, 2);
        assertEquals(50 + 2 * 4, latencies.estimateMs("r", prior, 4), 1e-9); // observed replaces the prior
        assertEquals(1000 + 10 * 4, latencies.estimateMs("other", prior, 4), 1e-9); // per router
        latencies.forget("r");
        assertEquals(1000 + 10 * 4, latencies.estimateMs("r", prior, 4), 1e-9);
        assertEquals(Double.NaN, latencies.estimateMs("r", LARGE, 4));
    }

    private static List<String> decided(RouteRules.Decision d) {
        return List.of(d.model(), d.reason());
    }
}
