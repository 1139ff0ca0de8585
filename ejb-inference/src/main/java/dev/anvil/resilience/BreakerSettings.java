package dev.anvil.resilience;

import dev.anvil.config.ConfigBounds;

/**
 * The parameters of a version's circuit breaker; the same meaning as MicroProfile Fault Tolerance's
 * {@code @CircuitBreaker}: over the last {@code requestVolumeThreshold} outcomes, a failure share of at least
 * {@code failureRatio} opens the breaker; after {@code delayMillis} it lets {@code successThreshold} trial requests
 * through (half-open), which close it if all succeed and open it again at the first failure.
 */
public record BreakerSettings(int requestVolumeThreshold, double failureRatio, long delayMillis, int successThreshold) {

    public BreakerSettings {
        ConfigBounds.atLeast("request-volume-threshold", requestVolumeThreshold, 1);
        if (!(failureRatio > 0 && failureRatio <= 1))
            throw new IllegalArgumentException("failure-ratio must be in (0, 1], was " + failureRatio);
        ConfigBounds.atLeast("delay-ms", delayMillis, 0);
        ConfigBounds.atLeast("success-threshold", successThreshold, 1);
    }
}
