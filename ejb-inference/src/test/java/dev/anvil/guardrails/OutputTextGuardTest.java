package dev.anvil.guardrails;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class OutputTextGuardTest {

    private final List<String> recorded = new ArrayList<>();

    private static GuardrailPolicy policy(String... keyValues) {
        Map<String, String> map = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) map.put("anvil.guardrails." + keyValues[i], keyValues[i + 1]);
        return GuardrailPolicy.load(null, k -> Optional.ofNullable(map.get(k)));
    }

    private OutputTextGuard guard(GuardrailPolicy policy, JsonOutputRequirement json) {
        return new OutputTextGuard(policy, json, (c, a) -> recorded.add(c.wireName() + "=" + a.wireName()));
    }

    /** Feeds the text in pieces of {@code piece} characters; returns what was released, in order. */
    private static String stream(OutputTextGuard g, String text, int piece) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length(); i += piece) {
            OutputTextGuard.Step s = g.append(text.substring(i, Math.min(text.length(), i + piece)));
            assertFalse(s.blocked());
            out.append(s.text());
        }
        OutputTextGuard.Step last = g.finish();
        assertFalse(last.blocked());
        return out.append(last.text()).toString();
    }

    @Test
    void streamedRedactionEqualsRedactionOfTheWholeText() {
        String text = "Dear user, " + "lorem ipsum ".repeat(20) + "write to jane.doe@example.com or call 555-123-4567, "
                + "card 4111 1111 1111 1111. " + "dolor sit amet ".repeat(15) + "end";
        for (int piece : new int[] {1, 2, 3, 7, 50, 1000}) {
            OutputTextGuard g = guard(policy("output-pii", "redact"), null);
            assertEquals(PiiDetector.redact(text), stream(g, text, piece), "pieces of " + piece);
        }
        assertEquals("output_pii=redact", recorded.getFirst());
    }

    @Test
    void holdsBackOnlyTheWindow() {
        OutputTextGuard g = guard(policy("output-pii", "redact"), null);
        String text = "x".repeat(500);
        OutputTextGuard.Step s = g.append(text);
        assertEquals(500 - g.window(), s.text().length());
        assertEquals(g.window(), g.finish().text().length());
    }

    @Test
    void noScanningMeansNoHoldingBack() {
        OutputTextGuard g = guard(policy("output-pii", "off"), null);
        assertEquals(0, g.window());
        assertEquals("abc", g.append("abc").text());
    }

    @Test
    void flagOnlyPassesTextThroughAndDecidesOnTheWholeText() {
        OutputTextGuard g = guard(policy(), null); // output-pii: flag
        assertFalse(g.transforms());
        assertEquals("mail jane@exa", g.append("mail jane@exa").text());
        assertEquals(List.of(), recorded, "a partial address is not a finding yet");
        assertEquals("mple.com", g.append("mple.com").text());
        assertEquals("", g.finish().text());
        assertEquals(List.of("output_pii=flag"), recorded, "the address split across pieces is found at the end");
    }

    @Test
    void blockStopsTheChoiceAndNamesTheCheck() {
        OutputTextGuard g = guard(policy("output-pii", "block"), null);
        String text = "hello jane@example.com " + "y".repeat(300);
        OutputTextGuard.Step step = null;
        for (int i = 0; i < text.length() && (step == null || !step.blocked()); i++)
            step = g.append(String.valueOf(text.charAt(i)));
        assertTrue(step.blocked());
        assertEquals(GuardrailCheck.OUTPUT_PII, step.blockedBy());
        assertFalse(g.released().contains("jane"), "nothing of the address was released");
        assertEquals("", g.append("more").text());
        assertEquals(List.of("output_pii=block"), recorded);
    }

    @Test
    void blockedTermsRedactOrBlock() {
        OutputTextGuard redact =
                guard(policy("blocked-terms", "redact", "blocked-term-list", "dragon,evil wizard"), null);
        assertEquals("The [BLOCKED] met an [BLOCKED].", stream(redact, "The dragon met an Evil Wizard.", 4));
        OutputTextGuard block = guard(policy("blocked-term-list", "dragon"), null); // default action: block
        block.append("The dragon slept.");
        OutputTextGuard.Step s = block.finish();
        assertEquals(GuardrailCheck.BLOCKED_TERMS, s.blockedBy());
    }

    @Test
    void flaggingCountsButChangesNothing() {
        OutputTextGuard g = guard(policy(), null); // default output-pii: flag
        String text = "mail bob@example.net";
        assertEquals(text, stream(g, text, 3));
        assertEquals(List.of("output_pii=flag"), recorded);
        assertEquals(List.of("output_pii=flag"), List.copyOf(g.findings()));
    }

    @Test
    void jsonIsHeldUntilCompleteAndWithheldWhenInvalid() {
        OutputTextGuard ok = guard(policy(), JsonOutputRequirement.object());
        assertEquals("", ok.append("{\"a\":").text());
        OutputTextGuard.Step done = ok.append(" 1}").blocked() ? null : ok.finish();
        assertEquals("{\"a\": 1}", done.text());
        assertNull(done.blockedBy());

        OutputTextGuard bad = guard(policy(), JsonOutputRequirement.object());
        bad.append("Once upon a time");
        OutputTextGuard.Step s = bad.finish();
        assertEquals(GuardrailCheck.JSON_OUTPUT, s.blockedBy());
        assertEquals("", s.text());
        assertTrue(s.reason().contains("not valid JSON"));
        assertEquals(List.of("json_output=block"), recorded);
    }

    @Test
    void jsonCutAtTheTokenLimitIsNotJudged() {
        OutputTextGuard cut = guard(policy(), JsonOutputRequirement.object());
        cut.append("{\"a\": [1, 2");
        OutputTextGuard.Step s = cut.finish(true);
        assertNull(s.blockedBy(), "a prefix cut by max_tokens (finish_reason length) passes as it is");
        assertEquals("{\"a\": [1, 2", s.text());
        assertEquals(List.of(), recorded);
    }

    @Test
    void jsonFlagLetsTheTextThrough() {
        OutputTextGuard g = guard(policy("json-output", "flag"), JsonOutputRequirement.object());
        assertEquals("nope", stream(g, "nope", 2));
        assertEquals(List.of("json_output=flag"), recorded);
    }
}
