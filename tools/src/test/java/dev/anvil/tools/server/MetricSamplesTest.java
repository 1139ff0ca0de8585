package dev.anvil.tools.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.NoSuchElementException;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

/** Reading /metrics samples by name and labels, as SmallRye Metrics writes them. */
class MetricSamplesTest {

    private static final String TEXT = """
            # HELP anvil_gateway_overhead_seconds Time the gateway adds to a /v1 request
            # TYPE anvil_gateway_overhead_seconds summary
            anvil_gateway_overhead_seconds{mp_scope="application",quantile="0.5",} 1.2E-5
            anvil_gateway_overhead_seconds{mp_scope="application",quantile="0.99",} 4.5E-5
            anvil_gateway_overhead_seconds_count{mp_scope="application",} 2000.0

            anvil_http_requests_seconds_count{endpoint="/api/registry/models/{name}",method="GET",mp_scope="application",status="200",} 3.0
            anvil_inference_requests_total{model="stories260k",mp_scope="application",outcome="ok",version="1.0.0",} 5.0
            anvil_inference_requests_total{model="stories260k",mp_scope="application",outcome="cancelled",version="1.0.0",} 2.0
            anvil_inference_requests_total{model="stories260k-b",mp_scope="application",outcome="ok",version="1.0.0",} 7.0
            anvil_cache_hit_ratio{mp_scope="application"} NaN
            odd_labels{text="a \\"quoted\\" \\\\ value\\non two lines",} +Inf 1700000000000
            jvm_uptime_seconds 12.5
            """;

    @Test
    void readsSamplesByNameAndExactLabelValues() {
        MetricSamples m = MetricSamples.parse(TEXT);
        assertEquals(10, m.all().size());
        assertEquals(
                7.0,
                m.sum("anvil_inference_requests_total", "model=\"stories260k\""),
                "another model's samples are not counted");
        assertEquals(2.0, m.sum("anvil_inference_requests_total", "model=\"stories260k\"", "outcome=\"cancelled\""));
        assertEquals(14.0, m.sum("anvil_inference_requests_total"));
        assertEquals(OptionalDouble.of(4.5E-5), m.first("anvil_gateway_overhead_seconds", "quantile=\"0.99\""));
        assertEquals(
                OptionalDouble.of(2000.0),
                m.first("anvil_gateway_overhead_seconds_count"),
                "_count is a name of its own");
        assertEquals(OptionalDouble.empty(), m.first("anvil_gateway_overhead_seconds", "quantile=\"0.9\""));
        assertTrue(
                m.contains(
                        "anvil_http_requests_seconds_count",
                        "endpoint=\"/api/registry/models/{name}\"",
                        "status=\"200\""),
                "a label value may hold braces");
        assertFalse(m.contains("anvil_http_requests_seconds_count", "status=\"20\""));
        assertTrue(Double.isNaN(m.sum("anvil_cache_hit_ratio")));
        assertEquals(12.5, m.sum("jvm_uptime_seconds"));
        MetricSamples.Sample odd = m.matching("odd_labels").getFirst();
        assertEquals(Map.of("text", "a \"quoted\" \\ value\non two lines"), odd.labels());
        assertEquals(Double.POSITIVE_INFINITY, odd.value(), "+Inf, and a timestamp after the value");
        assertThrows(NoSuchElementException.class, () -> m.sum("anvil_inference_requests_total", "model=\"other\""));
    }

    @Test
    void refusesWhatIsNotASampleOrASelector() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> MetricSamples.parse("# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\" 2\n"));
        assertTrue(e.getMessage().startsWith("line 3 "), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MetricSamples.parse("x{a=\"1\"} many"));
        assertThrows(IllegalArgumentException.class, () -> MetricSamples.parse("x{a=1} 1"));
        MetricSamples m = MetricSamples.parse("x{a=\"1\"} 1");
        assertThrows(IllegalArgumentException.class, () -> m.contains("x", "a=1"));
        assertThrows(IllegalArgumentException.class, () -> m.contains("x", "a=\"1\" and more"));
    }
}
