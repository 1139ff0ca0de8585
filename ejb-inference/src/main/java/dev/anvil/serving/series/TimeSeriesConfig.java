package dev.anvil.serving.series;

import dev.anvil.config.ConfigBounds;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The in-memory serving time series ({@code GET /api/serving/versions}, the admin console's overview): how often a
 * sample is taken and how much history each loaded version keeps.
 */
@ApplicationScoped
public class TimeSeriesConfig {

    /** Seconds between two samples of every loaded version. */
    @Inject
    @ConfigProperty(name = "anvil.serving.timeseries.interval-seconds", defaultValue = "2")
    int intervalSeconds;

    /** Seconds of history kept per loaded version (rounded down to whole intervals). */
    @Inject
    @ConfigProperty(name = "anvil.serving.timeseries.window-seconds", defaultValue = "600")
    int windowSeconds;

    public int intervalSeconds() {
        return ConfigBounds.atLeast("anvil.serving.timeseries.interval-seconds", intervalSeconds, 1);
    }

    public int windowSeconds() {
        return ConfigBounds.atLeast("anvil.serving.timeseries.window-seconds", windowSeconds, intervalSeconds());
    }

    /** Samples kept per version. */
    public int capacity() {
        return windowSeconds() / intervalSeconds();
    }
}
