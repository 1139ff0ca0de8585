package dev.anvil.resilience;

/**
 * The parameters of a version's circuit breaker; the same meaning as MicroProfile Fault Tolerance's
 * {@code @CircuitBreaker}: over the last {@code requestVolumeThreshold} outcomes, a failure share of at least
 * {@code failureRatio} opens the breaker; after {@code delayMillis} it lets {@code successThreshold} trial requests
 * through (half-open), which close it if all succeed and open it again at the first failure.
 */
public record BreakerSettings(int requestVolumeThreshold, double failureRatio, long delayMillis, int successThreshold) {

    public BreakerSettings {
        if (requestVolumeThreshold < 1)
            throw new IllegalArgumentException(
                    "request-volume-threshold must be at least 1, was " + requestVolumeThreshold);
        if (!(failureRatio > 0 && failureRatio <= 1))
            throw new IllegalArgumentException("failure-ratio must be in (0, 1], was " + failureRatio);
        if (delayMillis < 0) throw new IllegalArgumentException("delay-ms must not be negative, was " + delayMillis);
        if (successThreshold < 1)
            throw new IllegalArgumentException("success-threshold must be at least 1, was " + successThreshold);
    }
}
