package dev.anvil.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The weights of a WEIGHTS_CHANGED or STARTED event, read back from the reason the domain wrote, and nothing else. */
class EventWeightsTest {

    private static Map<String, Integer> of(String reason) {
        return ExperimentInfo.EventInfo.weightsOf("WEIGHTS_CHANGED", reason);
    }

    @Test
    void readsTheWeightsAWeightChangeWrote() {
        assertEquals(Map.of("candidate", 10, "control", 90), of("weights {candidate=10, control=90}"));
        assertEquals(
                Map.of("candidate", 25, "control", 75),
                of("canary step 5% -> 25%: guardrails held over 40 outcomes (weights {candidate=25, control=75})"));
        // A reason of the operator's that itself looks like weights does not confuse the suffix the domain added.
        assertEquals(
                Map.of("a", 50, "b-2.x", 50), of("set to (weights {a=1, b=99}) by hand (weights {a=50, b-2.x=50})"));
        assertEquals(Map.of("a", 100), of("Thompson sampling rebalance (weights {a=100})"));
        // The split an experiment started with.
        assertEquals(Map.of("a", 50, "b", 50), ExperimentInfo.EventInfo.weightsOf("STARTED", "weights {a=50, b=50}"));
    }

    @Test
    void anythingElseIsNoWeights() {
        assertNull(ExperimentInfo.EventInfo.weightsOf("PAUSED", "weights {a=10, b=90}"));
        assertNull(ExperimentInfo.EventInfo.weightsOf("STARTED", null));
        assertNull(of(null));
        assertNull(of("operator rollback"));
        assertNull(of("weights {a=10, b=}"));
        assertNull(of("weights {a=101, b=0}"));
        assertNull(of("weights {a=10, a=90}"));
        assertNull(of("weights {a b=10}"));
        assertNull(of("weights {=10}"));
        assertNull(of("(weights {a=10}) trailing"));
    }
}
