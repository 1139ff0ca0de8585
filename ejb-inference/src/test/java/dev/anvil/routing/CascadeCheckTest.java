package dev.anvil.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.math.BigDecimal;
import java.util.List;
import org.junit.jupiter.api.Test;

class CascadeCheckTest {

    private static final RouterSpec.Cascade ALL = new RouterSpec.Cascade(true, -1.5, null, null);

    private static String failure(RouterSpec.Cascade c, CascadeCheck.Answer... answers) {
        return CascadeCheck.failure(c, List.of(answers), t -> t.contains("SECRET"), t -> !t.startsWith("{"));
    }

    @Test
    void aConfidentCleanJsonAnswerStands() {
        assertNull(failure(ALL, new CascadeCheck.Answer("{\"a\":1}", -0.5)));
    }

    @Test
    void eachCheckFailsOnItsOwn() {
        assertEquals("logprob", failure(ALL, new CascadeCheck.Answer("{}", -2.0)));
        assertEquals("guardrail", failure(ALL, new CascadeCheck.Answer("{SECRET}", -0.1)));
        assertEquals("json", failure(ALL, new CascadeCheck.Answer("not json", -0.1)));
        // any failing choice fails the answer
        assertEquals("logprob", failure(ALL, new CascadeCheck.Answer("{}", -0.1), new CascadeCheck.Answer("{}", -3.0)));
    }

    @Test
    void checksCanBeTurnedOff() {
        RouterSpec.Cascade none = new RouterSpec.Cascade(true, null, false, false);
        assertNull(failure(none, new CascadeCheck.Answer("not json SECRET", -9.0)));
    }

    @Test
    void anUnknownLogprobFailsOnlyAnEmptyAnswer() {
        assertNull(failure(ALL, new CascadeCheck.Answer("{}", Double.NaN)));
        assertEquals("logprob", failure(ALL, new CascadeCheck.Answer("", Double.NaN)));
    }

    @Test
    void meanAndSavingsArithmetic() {
        assertEquals(-1.0, CascadeCheck.mean(List.of(-0.5, -1.5)), 1e-12);
        assertEquals(Double.NaN, CascadeCheck.mean(List.of()));
        // 2 requests on the small model (cost 0.02) whose tokens cost 0.2 on the large one: saved 0.18
        assertEquals(
                0,
                new BigDecimal("0.18").compareTo(CascadeCheck.savings(new BigDecimal("0.2"), new BigDecimal("0.02"))));
        // an escalation: baseline 0.1 (first attempt's row) + 0 (escalation's), cost 0.01 + 0.1: saved -0.01
        assertEquals(
                0,
                new BigDecimal("-0.01").compareTo(CascadeCheck.savings(new BigDecimal("0.1"), new BigDecimal("0.11"))));
        assertEquals(0, BigDecimal.ZERO.compareTo(CascadeCheck.savings(null, null)));
    }
}
