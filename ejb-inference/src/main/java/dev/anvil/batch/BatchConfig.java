package dev.anvil.batch;

import dev.anvil.config.ConfigBounds;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/** Every {@code anvil.batch.*} key (MicroProfile Config), with its default: the Batch API's bounds and its jobs. */
@ApplicationScoped
public class BatchConfig {

    /**
     * Largest uploaded batch input file, in bytes (413 beyond); the HTTP listener's max-post-size (64 GiB, 20-web.cli, for
     * model uploads) lets larger bodies reach this check.
     */
    @Inject
    @ConfigProperty(name = "anvil.batch.max-file-bytes", defaultValue = "8388608")
    long maxFileBytes;

    /** Most request lines one input file (and so one batch) may hold (400 beyond). */
    @Inject
    @ConfigProperty(name = "anvil.batch.max-lines", defaultValue = "10000")
    int maxLines;

    /** Largest single line of an input file, in bytes of UTF-8 (400 naming the line beyond). */
    @Inject
    @ConfigProperty(name = "anvil.batch.max-line-bytes", defaultValue = "262144")
    int maxLineBytes;

    /** Lines a batch job runs between two checkpoints (results stored and the line index saved in one chunk). */
    @Inject
    @ConfigProperty(name = "anvil.batch.checkpoint-lines", defaultValue = "10")
    int checkpointLines;

    /**
     * Times a line refused for load (429 rate limit of the batch's key, 503 queue full) is tried again, after the
     * server's {@code Retry-After}, before it is recorded as failed.
     */
    @Inject
    @ConfigProperty(name = "anvil.batch.line-retries", defaultValue = "20")
    int lineRetries;

    /** Batches an API key (or the anonymous caller) may have unfinished at once (429 beyond). */
    @Inject
    @ConfigProperty(name = "anvil.batch.max-active-per-key", defaultValue = "64")
    int maxActivePerKey;

    public long maxFileBytes() {
        return ConfigBounds.atLeast("anvil.batch.max-file-bytes", maxFileBytes, 1024L);
    }

    public int maxLines() {
        return ConfigBounds.atLeast("anvil.batch.max-lines", maxLines, 1);
    }

    public int maxLineBytes() {
        // a stored line is at most 1,000,000 characters (batch_file_line.content)
        return Math.min(1_000_000, ConfigBounds.atLeast("anvil.batch.max-line-bytes", maxLineBytes, 256));
    }

    public int checkpointLines() {
        return Math.min(1000, ConfigBounds.atLeast("anvil.batch.checkpoint-lines", checkpointLines, 1));
    }

    public int lineRetries() {
        return ConfigBounds.atLeast("anvil.batch.line-retries", lineRetries, 0);
    }

    public int maxActivePerKey() {
        return ConfigBounds.atLeast("anvil.batch.max-active-per-key", maxActivePerKey, 1);
    }
}
