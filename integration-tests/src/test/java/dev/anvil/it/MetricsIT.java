package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** /metrics: Prometheus text from SmallRye Metrics with JVM (base) and application metrics. */
@ExtendWith(AnvilServerExtension.class)
class MetricsIT {

    private static final Pattern LIVE_REQUESTS = Pattern.compile(
            "(?m)^anvil_http_requests_seconds_count\\{[^}]*endpoint=\"/health/live\"[^}]*method=\"GET\"[^}]*status=\"200\"[^}]*} ([0-9.E]+)$");

    @Test
    void prometheusTextContainsJvmMetrics(AnvilServer server) {
        HttpResult metrics = server.get("/metrics");
        assertEquals(200, metrics.status(), metrics::toString);
        assertTrue(metrics.contentType().startsWith("text/plain"), metrics::toString);
        assertTrue(metrics.body().contains("# TYPE "), "Prometheus exposition format expected: " + metrics);
        assertTrue(metrics.body().contains("memory_usedHeap_bytes{mp_scope=\"base\""), metrics::toString);
        assertTrue(metrics.body().contains("jvm_uptime_seconds{mp_scope=\"base\""), metrics::toString);
        assertTrue(metrics.body().contains("thread_count{mp_scope=\"base\""), metrics::toString);
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
        assertTrue(base.body().contains("mp_scope=\"base\""), base::toString);
        assertTrue(!base.body().contains("mp_scope=\"application\""), base::toString);

        HttpResult unknown = server.get("/metrics?scope=nope");
        assertEquals(404, unknown.status(), unknown::toString);
        assertEquals("scope", unknown.json().getJsonObject("error").getString("param"), unknown::toString);
    }

    private static double liveRequestCount(AnvilServer server) {
        HttpResult metrics = server.get("/metrics?scope=application");
        assertEquals(200, metrics.status(), metrics::toString);
        Matcher matcher = LIVE_REQUESTS.matcher(metrics.body());
        return matcher.find() ? Double.parseDouble(matcher.group(1)) : 0.0;
    }
}
