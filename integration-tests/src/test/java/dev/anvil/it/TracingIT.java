package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.TraceCollector.ReceivedSpan;
import jakarta.json.JsonValue;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * OpenTelemetry traces of {@code /v1} requests, collected by the run's in-process OTLP receiver ({@link
 * TraceCollector}; the test servers export to it): a caller's W3C {@code traceparent} is the parent of the request's
 * server span, which holds Anvil's stages as child spans, and the trace id comes back in a header and in the request's
 * usage and audit rows.
 */
@ExtendWith(AnvilServerExtension.class)
class TracingIT {

    private static final List<String> STAGES = List.of(
            "anvil.gateway",
            "anvil.routing",
            "anvil.model",
            "anvil.guardrails.input",
            "anvil.cache",
            "anvil.queue",
            "anvil.prefill",
            "anvil.decode",
            "anvil.guardrails.output");

    @Test
    void aChatRequestIsOneTraceWithASpanPerStageUnderTheCallersParent(AnvilServer server) {
        String traceId = hex(16), parentSpan = hex(8);
        HttpResult r = server.request(
                "POST",
                "/v1/chat/completions",
                "{\"model\":\"stories260k\",\"max_tokens\":6,\"temperature\":0,"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}]}",
                Map.of(
                        "Content-Type", "application/json",
                        "Cache-Control", "no-store",
                        "traceparent", "00-" + traceId + "-" + parentSpan + "-01"));
        assertEquals(200, r.status(), r::toString);
        assertEquals(traceId, r.headers().firstValue("X-Anvil-Trace-Id").orElse(null), "the trace id is told back");
        String requestId = r.json().getString("id");

        List<ReceivedSpan> spans = await(traceId, l -> l.size() >= STAGES.size() + 1);
        Set<String> names = spans.stream().map(ReceivedSpan::name).collect(Collectors.toSet());
        assertTrue(names.containsAll(STAGES), "every stage has its span: " + names);
        ReceivedSpan root = spans.stream()
                .filter(s -> parentSpan.equals(s.parentSpanId()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no span under the caller's traceparent: " + spans));
        assertTrue(root.name().contains("/v1/chat/completions"), "the server span of the request: " + root);
        for (ReceivedSpan s : spans) {
            if (STAGES.contains(s.name())) {
                assertEquals(root.spanId(), s.parentSpanId(), s.name() + " hangs under the request's span");
                assertTrue(s.endNanos() >= s.startNanos(), s::toString);
            }
        }
        ReceivedSpan queue = span(spans, "anvil.queue"), prefill = span(spans, "anvil.prefill");
        ReceivedSpan decode = span(spans, "anvil.decode");
        assertTrue(
                queue.endNanos() <= prefill.startNanos() && prefill.endNanos() <= decode.startNanos(),
                "queue, prefill and decode follow each other: " + List.of(queue, prefill, decode));
        assertTrue(Long.parseLong(prefill.attributes().get("gen_ai.usage.input_tokens")) > 0, prefill::toString);
        assertEquals(
                r.json().getJsonObject("usage").getInt("completion_tokens"),
                Integer.parseInt(decode.attributes().get("gen_ai.usage.output_tokens")),
                decode::toString);
        assertEquals("no-store", span(spans, "anvil.cache").attributes().get("anvil.cache.status"));

        // The audit row of the request names the trace (rows are written about every second).
        HttpResult audit = Eventually.until(
                () -> server.get("/api/gateway/audit?action=v1.request&limit=200"),
                a -> a.status() == 200 && rowOf(a, requestId) != null,
                Duration.ofSeconds(20));
        jakarta.json.JsonObject row = rowOf(audit, requestId);
        assertNotNull(row, "audit row of " + requestId + ": " + audit);
        assertEquals(traceId, row.getString("traceId"), row::toString);
    }

    @Test
    void aRequestWithoutTraceparentStartsItsOwnTrace(AnvilServer server) {
        HttpResult r = server.request(
                "POST",
                "/v1/completions",
                "{\"model\":\"stories260k\",\"prompt\":\"Once\",\"max_tokens\":2,\"stream\":false}",
                Map.of("Content-Type", "application/json", "Cache-Control", "no-store"));
        assertEquals(200, r.status(), r::toString);
        String traceId = r.headers().firstValue("X-Anvil-Trace-Id").orElseThrow();
        assertTrue(traceId.matches("[0-9a-f]{32}"), traceId);
        List<ReceivedSpan> spans = await(traceId, l -> l.stream().anyMatch(s -> s.parentSpanId() == null));
        assertTrue(spans.stream().anyMatch(s -> s.parentSpanId() == null), "a root span: " + spans);
    }

    @Test
    void whatIsLoggedForARequestNamesItsTrace(AnvilServer server) throws Exception {
        String traceId = hex(16);
        HttpResult r = server.request(
                "POST",
                "/v1/completions",
                "{\"model\":\"stories260k\",\"prompt\":\"Mail tom@example.com a story\",\"max_tokens\":2}",
                Map.of(
                        "Content-Type", "application/json",
                        "Cache-Control", "no-store",
                        "traceparent", "00-" + traceId + "-" + hex(8) + "-01"));
        assertEquals(200, r.status(), r::toString); // the address is a flagged input PII finding, logged by the guard
        String line = java.nio.file.Files.readAllLines(server.serverLog()).stream()
                .filter(l -> l.contains("guardrail input_pii found something") && l.contains(traceId))
                .findFirst()
                .orElse(null);
        assertNotNull(line, "the guardrail's log line names the request's trace " + traceId);
    }

    private static jakarta.json.JsonObject rowOf(HttpResult audit, String requestId) {
        return audit.json().getJsonArray("data").stream()
                .map(JsonValue::asJsonObject)
                .filter(a -> !a.isNull("detail") && a.getString("detail").contains("request=" + requestId + " "))
                .findFirst()
                .orElse(null);
    }

    private static ReceivedSpan span(List<ReceivedSpan> spans, String name) {
        return spans.stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    /** The trace's spans once {@code enough} holds (exporters send in batches), or what came in 20 s. */
    private static List<ReceivedSpan> await(String traceId, java.util.function.Predicate<List<ReceivedSpan>> enough) {
        return Eventually.value(() -> TraceCollector.get().trace(traceId), enough, Duration.ofSeconds(20));
    }

    private static String hex(int bytes) {
        byte[] b = new byte[bytes];
        ThreadLocalRandom.current().nextBytes(b);
        b[0] |= 1; // never all zero (an invalid id)
        return HexFormat.of().formatHex(b);
    }
}
