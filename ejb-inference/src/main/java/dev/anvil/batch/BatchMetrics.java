package dev.anvil.batch;

import dev.anvil.metrics.MetricMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;
import org.eclipse.microprofile.metrics.Tag;

/**
 * The Batch API's metrics ({@code anvil_batch_*} in {@code /metrics}): batches created and ended by status, line
 * results by outcome, and lines sent through the serving pipeline (counted per server: after a restart only the lines
 * not yet answered are sent again).
 */
@ApplicationScoped
public class BatchMetrics {

    private static final Metadata CREATED =
            MetricMetadata.of("anvil.batch.batches.created", "Batches created, by endpoint", MetricUnits.NONE);
    private static final Metadata ENDED = MetricMetadata.of(
            "anvil.batch.batches.ended", "Batches that reached a final status, by status", MetricUnits.NONE);
    private static final Metadata LINES = MetricMetadata.of(
            "anvil.batch.lines", "Batch lines answered, by endpoint and outcome (completed, failed)", MetricUnits.NONE);
    private static final Metadata EXECUTED = MetricMetadata.of(
            "anvil.batch.line.executions",
            "Batch lines sent through the serving pipeline by this server (a stored line is never sent again)",
            MetricUnits.NONE);

    @Inject
    MetricRegistry registry;

    void created(String endpoint) {
        registry.counter(CREATED, new Tag("endpoint", endpoint)).inc();
    }

    void ended(String status) {
        registry.counter(ENDED, new Tag("status", status)).inc();
    }

    void recorded(String endpoint, int completed, int failed) {
        if (completed > 0)
            registry.counter(LINES, new Tag("endpoint", endpoint), new Tag("outcome", "completed"))
                    .inc(completed);
        if (failed > 0)
            registry.counter(LINES, new Tag("endpoint", endpoint), new Tag("outcome", "failed"))
                    .inc(failed);
    }

    void lineExecuted() {
        registry.counter(EXECUTED).inc();
    }
}
