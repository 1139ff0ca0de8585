package dev.anvil.metrics;

import org.eclipse.microprofile.metrics.Metadata;

/** Metadata of an Anvil metric: every metric the server registers has a name, a description and a unit. */
public final class MetricMetadata {

    private MetricMetadata() {}

    public static Metadata of(String name, String description, String unit) {
        return Metadata.builder()
                .withName(name)
                .withDescription(description)
                .withUnit(unit)
                .build();
    }
}
