package dev.anvil.experiments.domain;

import java.util.Arrays;
import java.util.Locale;

/**
 * The metric an experiment is decided on, with the kind of data it is, which picks the statistical test:
 * proportions get a two-proportion z-test, latencies (skewed, heavy-tailed) the rank-based Mann-Whitney U,
 * cost (roughly symmetric per-request amounts) Welch's t-test. Lower is better for every metric here.
 */
public enum PrimaryMetric {
    ERROR_RATE("error_rate", Kind.PROPORTION),
    NEGATIVE_FEEDBACK_RATE("negative_feedback_rate", Kind.PROPORTION),
    LATENCY_MS("latency_ms", Kind.SKEWED),
    TTFT_MS("ttft_ms", Kind.SKEWED),
    COST("cost", Kind.CONTINUOUS);

    public enum Kind {
        PROPORTION,
        SKEWED,
        CONTINUOUS
    }

    private final String key;
    private final Kind kind;

    PrimaryMetric(String key, Kind kind) {
        this.key = key;
        this.kind = kind;
    }

    /** The name used in JSON and in the database. */
    public String key() {
        return key;
    }

    public Kind kind() {
        return kind;
    }

    public static PrimaryMetric parse(String text) {
        String allowed =
                Arrays.stream(values()).map(PrimaryMetric::key).toList().toString();
        if (text == null || text.isBlank()) {
            throw new InvalidExperimentException("primaryMetric", "primaryMetric is required (one of " + allowed + ")");
        }
        String wanted = text.strip().toLowerCase(Locale.ROOT);
        for (PrimaryMetric m : values()) {
            if (m.key.equals(wanted)) return m;
        }
        throw new InvalidExperimentException(
                "primaryMetric", "unknown primaryMetric '" + text + "' (one of " + allowed + ")");
    }
}
