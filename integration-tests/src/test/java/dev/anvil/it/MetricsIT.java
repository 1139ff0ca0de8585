package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.tools.server.MetricSamples;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** /metrics: Prometheus text from SmallRye Metrics with JVM (base) and application metrics. */
@ExtendWith(AnvilServerExtension.class)
class MetricsIT {

    @Test
    void prometheusTextContainsJvmMetrics(AnvilServer server) {
        HttpResult metrics = server.get("/metrics");
        assertEquals(200, metrics.status(), metrics::toString);
        assertTrue(metrics.contentType().startsWith("text/plain"), metrics::toString);
        assertTrue(metrics.body().contains("# TYPE "), "Prometheus exposition format expected: " + metrics);
        MetricSamples samples = MetricSamples.parse(metrics.body());
        assertTrue(samples.contains("memory_usedHeap_bytes", "mp_scope=\"base\""), metrics::toString);
        assertTrue(samples.contains("jvm_uptime_seconds", "mp_scope=\"base\""), metrics::toString);
        assertTrue(samples.contains("thread_count", "mp_scope=\"base\""), metrics::toString);
    }

    @Test
    void httpRequestTimerCountsRequests(AnvilServer server) {
        double before = liveRequestCount(server);
        for (int i = 0; i < 3; i++) {
            assertEquals(200, server.get("/health/live").status());
        }
        double after = liveRequestCount(server);
        assertEquals(before + 3, after, 0.0001, "anvil_http_requests must count each /health/live call");
    }

    @Test
    void scopeFilterAndUnknownScope(AnvilServer server) {
        HttpResult base = server.get("/metrics?scope=base");
        assertEquals(200, base.status(), base::toString);
        MetricSamples baseSamples = MetricSamples.parse(base.body());
        assertTrue(
                baseSamples.all().stream()
                        .anyMatch(s -> "base".equals(s.labels().get("mp_scope"))),
                base::toString);
        assertTrue(
                baseSamples.all().stream()
                        .noneMatch(s -> "application".equals(s.labels().get("mp_scope"))),
                base::toString);

        HttpResult unknown = server.get("/metrics?scope=nope");
        assertEquals(404, unknown.status(), unknown::toString);
        assertEquals("scope", unknown.json().getJsonObject("error").getString("param"), unknown::toString);
    }

    private static double liveRequestCount(AnvilServer server) {
        return ServerMetrics.firstOrZero(
                server,
                "anvil_http_requests_seconds_count",
                "endpoint=\"/health/live\"",
                "method=\"GET\"",
                "status=\"200\"");
    }
}
