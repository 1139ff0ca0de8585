package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.anvil.tools.server.MetricSamples;
import java.util.List;

/**
 * A server's {@code /metrics} in integration tests, read with the tools' {@link MetricSamples} (the one Prometheus
 * text reader of the build; labels are selected as {@code key="value"}).
 */
public final class ServerMetrics {

    private ServerMetrics() {}

    /** The server's metrics of every scope ({@code /metrics}). */
    public static MetricSamples all(AnvilServer server) {
        return read(server, "/metrics");
    }

    /** The server's application-scope metrics ({@code /metrics?scope=application}). */
    public static MetricSamples application(AnvilServer server) {
        return read(server, "/metrics?scope=application");
    }

    /**
     * Sum of every application sample of {@code name} with each of {@code labels} (e.g. {@code model="x"}); an
     * AssertionError when there is none.
     */
    public static double sum(AnvilServer server, String name, String... labels) {
        MetricSamples samples = application(server);
        if (!samples.contains(name, labels)) {
            throw new AssertionError(
                    "no series " + name + " " + List.of(labels) + " in /metrics of " + server.baseUri());
        }
        return samples.sum(name, labels);
    }

    /** The first application sample of {@code name} with each of {@code labels}, 0 while there is none. */
    public static double firstOrZero(AnvilServer server, String name, String... labels) {
        return application(server).first(name, labels).orElse(0.0);
    }

    private static MetricSamples read(AnvilServer server, String path) {
        HttpResult r = server.get(path);
        assertEquals(200, r.status(), r::toString);
        return MetricSamples.parse(r.body());
    }
}
