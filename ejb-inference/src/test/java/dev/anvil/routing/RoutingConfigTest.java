package dev.anvil.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.routing.domain.CostRouter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RoutingConfigTest {

    private static RoutingConfig defaults() {
        RoutingConfig c = new RoutingConfig();
        c.maxRouters = 256;
        c.maxCandidates = 8;
        c.maxTenantPolicies = 256;
        c.maxDefinitionChars = 16_000;
        c.refreshMs = 5_000;
        c.latencyMinObservations = 5;
        return c;
    }

    @Test
    void theDefaultsAreTheLimitsDefinitionsWereCheckedAgainst() {
        assertEquals(RouterSpec.Limits.DEFAULT, defaults().limits());
        assertEquals(CostRouter.MAX_DEFINITION, defaults().maxDefinitionChars());
    }

    @Test
    void valuesOutOfRangeFailNamingTheKey() {
        RoutingConfig c = defaults();
        c.maxCandidates = 1;
        var e = assertThrows(IllegalArgumentException.class, c::maxCandidates);
        assertEquals("anvil.routing.max-candidates must be in [2, 64], got 1", e.getMessage());
        c = defaults();
        c.maxDefinitionChars = CostRouter.MAX_DEFINITION + 1;
        e = assertThrows(IllegalArgumentException.class, c::maxDefinitionChars);
        assertTrue(e.getMessage().startsWith("anvil.routing.max-definition-chars must be in [256, 16000]"));
        c = defaults();
        c.maxRouters = 0;
        assertThrows(IllegalArgumentException.class, c::maxRouters);
        c = defaults();
        c.refreshMs = 10;
        assertThrows(IllegalArgumentException.class, c::refreshMs);
        c = defaults();
        c.latencyMinObservations = 0;
        assertThrows(IllegalArgumentException.class, c::latencyMinObservations);
        c = defaults();
        c.maxTenantPolicies = -1;
        assertThrows(IllegalArgumentException.class, c::maxTenantPolicies);
    }

    @Test
    void configuredLimitsBoundADefinition() {
        RoutingConfig c = defaults();
        c.maxCandidates = 2;
        c.maxTenantPolicies = 1;
        List<RouterSpec.Candidate> three = new ArrayList<>();
        for (String m : List.of("a", "b", "c")) three.add(new RouterSpec.Candidate(m, null, null, null, null, null));
        List<String> problems = new RouterSpec(
                        three,
                        List.of(
                                new RouterSpec.TenantPolicy("t1", List.of("a")),
                                new RouterSpec.TenantPolicy("t2", List.of("b"))),
                        null)
                .problems("auto", c.limits());
        assertTrue(
                problems.contains("'candidates' lists at most 2 models (anvil.routing.max-candidates)"),
                problems.toString());
        assertTrue(
                problems.contains("'tenants' lists at most 1 policies (anvil.routing.max-tenant-policies)"),
                problems.toString());
        assertEquals(List.of(), new RouterSpec(three.subList(0, 2), null, null).problems("auto", c.limits()));
    }

    @Test
    void theObservationsNeededBeforeALatencyCountsAreConfigurable() {
        RouterSpec.Candidate prior = new RouterSpec.Candidate("m", null, null, null, 1000, 0);
        RouteLatencies latencies = new RouteLatencies(2);
        latencies.observe("r", "m", 50, 0);
        assertEquals(1000, latencies.estimateMs("r", prior, 1), 1e-9, "one observation: the prior stands");
        latencies.observe("r", "m", 50, 0);
        assertEquals(50, latencies.estimateMs("r", prior, 1), 1e-9, "two: the observed mean");
        assertThrows(IllegalArgumentException.class, () -> new RouteLatencies(0));
    }
}
