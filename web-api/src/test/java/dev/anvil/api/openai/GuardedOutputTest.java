package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.guardrails.GuardrailPolicy;
import dev.anvil.guardrails.JsonOutputRequirement;
import dev.anvil.guardrails.OutputTextGuard;
import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.TokenLogprob;
import dev.anvil.serving.Usage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Stage 6 on both answer paths: plain results and the SSE stream, with the real guards and writer. */
class GuardedOutputTest {

    private final List<String> counted = new ArrayList<>();

    private GuardedOutput output(JsonOutputRequirement json, String... keyValues) {
        Map<String, String> config = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) config.put("anvil.guardrails." + keyValues[i], keyValues[i + 1]);
        GuardrailPolicy policy = GuardrailPolicy.load(null, k -> Optional.ofNullable(config.get(k)));
        return new GuardedOutput(
                (p, j) -> new OutputTextGuard(p, j, (c, a) -> counted.add(c.wireName() + "=" + a.wireName())),
                new RequestGuardrails(policy, new LinkedHashSet<>(List.of("input_pii=flag")), json));
    }

    private static GenerationResult result(String... texts) {
        List<GenerationResult.Choice> choices = new ArrayList<>();
        for (int i = 0; i < texts.length; i++) {
            choices.add(new GenerationResult.Choice(
                    i,
                    texts[i],
                    new int[] {1, 2},
                    FinishReason.STOP,
                    List.of(new TokenLogprob(1, "x", new byte[] {'x'}, -0.5f, List.of()))));
        }
        return new GenerationResult("r", null, choices, new Usage(3, 2));
    }

    @Test
    void plainResultsAreRedactedOrWithheldPerChoice() {
        GuardedOutput out = output(null, "output-pii", "redact", "blocked-term-list", "dragon");
        List<GenerationResult> guarded =
                out.apply(List.of(result("mail me: a@example.com", "a dragon!", "nothing here")));
        List<GenerationResult.Choice> c = guarded.getFirst().choices();
        assertEquals("mail me: [EMAIL]", c.get(0).text());
        assertNull(c.get(0).logprobs(), "changed text drops its logprobs");
        assertEquals("", c.get(1).text());
        assertEquals(FinishReason.CONTENT_FILTER, c.get(1).finishReason());
        assertEquals("nothing here", c.get(2).text());
        assertEquals(1, c.get(2).logprobs().size(), "untouched choices keep their logprobs");
        assertEquals("input_pii=flag, output_pii=redact, blocked_terms=block", out.header());
    }

    private static String write(SseStream.EventSource source) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        new SseStream(source, SseStreamTest.FORMAT, false, 30).write(bytes);
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aStreamIsRedactedAsItFlows() {
        GuardedOutput out = output(null, "output-pii", "redact");
        List<Submission.Event> events = new ArrayList<>();
        String text = "write to jane@example.com " + "and so on ".repeat(20);
        for (int i = 0; i < text.length(); i += 3) {
            events.add(new Submission.Event.Delta(0, text.substring(i, Math.min(text.length(), i + 3)), null));
        }
        events.add(new Submission.Event.Finish(0, FinishReason.STOP));
        events.add(new Submission.Event.Complete(0, result(text)));
        SseStreamTest.Source source = new SseStreamTest.Source(1, events.toArray(Submission.Event[]::new));
        String sse = write(out.stream(source));
        StringBuilder sent = new StringBuilder();
        for (String line : sse.split("\n")) {
            if (!line.startsWith("data: {")) continue;
            jakarta.json.JsonObject chunk = jakarta.json.Json.createReader(new java.io.StringReader(line.substring(6)))
                    .readObject();
            if (chunk.containsKey("t")) sent.append(chunk.getString("t"));
        }
        assertEquals(text.replace("jane@example.com", "[EMAIL]"), sent.toString());
        assertTrue(sse.contains("data: {\"f\":\"stop\",\"i\":0}"), sse);
        assertTrue(sse.endsWith("data: [DONE]\n\n"));
        assertFalse(source.cancelled);
    }

    @Test
    void aBlockEndsTheStreamWithAnErrorAndContentFilter() {
        GuardedOutput out = output(null, "blocked-term-list", "dragon");
        SseStreamTest.Source source = new SseStreamTest.Source(
                1,
                new Submission.Event.Delta(0, "Once a ", null),
                new Submission.Event.Delta(0, "dragon", null),
                new Submission.Event.Finish(0, FinishReason.STOP),
                new Submission.Event.Complete(0, result("Once a dragon")));
        String sse = write(out.stream(source));
        assertFalse(sse.contains("dragon"), sse);
        assertTrue(sse.contains("\"code\":\"guardrail_violation\""), sse);
        assertTrue(sse.contains("\"param\":\"blocked_terms\""), sse);
        assertTrue(sse.contains("data: {\"f\":\"content_filter\",\"i\":0}"), sse);
        assertTrue(sse.endsWith("data: [DONE]\n\n"));
        assertTrue(source.cancelled, "the generation is stopped");
        assertEquals(List.of("blocked_terms=block"), counted);
    }

    @Test
    void flagOnlyStreamsPassThroughUnchangedWithLogprobs() {
        GuardedOutput out = output(null);
        TokenLogprob lp = new TokenLogprob(7, "a@b.io", new byte[] {'a'}, -0.1f, List.of());
        SseStreamTest.Source source = new SseStreamTest.Source(1, new Submission.Event.Delta(0, "mail a@b.io", lp));
        SseStream.EventSource guarded = out.stream(source);
        try {
            Submission.Event e = guarded.poll(1000);
            assertEquals(new Submission.Event.Delta(0, "mail a@b.io", lp), e, "the very same event");
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        assertFalse(out.transformsStream());
    }
}
