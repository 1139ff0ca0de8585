package dev.anvil.resilience;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Optional;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The {@code anvil.resilience.*} keys (MicroProfile Config), with their defaults: each version's circuit breaker, and
 * the fallbacks per model ({@code fallback-model.<name>}, {@code fallback-message.<name>}, read per name). The
 * submission's retry and timeout are MicroProfile Fault Tolerance annotations on {@link SubmissionAttempts#submit},
 * tuned with Fault Tolerance's own keys (docs/CONFIGURATION.md).
 */
@ApplicationScoped
public class ResilienceConfig {

    /** {@code anvil.resilience.fallback-model.<name>}: the model that answers for model {@code <name>}. */
    public static final String FALLBACK_MODEL_PREFIX = "anvil.resilience.fallback-model.";

    public static final String FALLBACK_MESSAGE_KEY = "anvil.resilience.fallback-message";
    /** {@code anvil.resilience.fallback-message.<name>}: the fixed answer for model {@code <name>}. */
    public static final String FALLBACK_MESSAGE_PREFIX = FALLBACK_MESSAGE_KEY + ".";

    /** Outcomes in each version's rolling window. */
    @Inject
    @ConfigProperty(name = "anvil.resilience.breaker.request-volume-threshold", defaultValue = "8")
    int breakerRequestVolumeThreshold;

    /** Failure share of a full window that opens the version's breaker. */
    @Inject
    @ConfigProperty(name = "anvil.resilience.breaker.failure-ratio", defaultValue = "0.5")
    double breakerFailureRatio;

    /** Milliseconds an open breaker refuses before letting trial requests through. */
    @Inject
    @ConfigProperty(name = "anvil.resilience.breaker.delay-ms", defaultValue = "10000")
    long breakerDelayMs;

    /** Successful trial requests that close the breaker again. */
    @Inject
    @ConfigProperty(name = "anvil.resilience.breaker.success-threshold", defaultValue = "2")
    int breakerSuccessThreshold;

    /** The fixed answer when neither a model nor its fallback model can answer (unset: the 503 stays). */
    @Inject
    @ConfigProperty(name = FALLBACK_MESSAGE_KEY)
    Optional<String> fallbackMessage;

    @Inject
    Config config;

    public BreakerSettings breaker() {
        return new BreakerSettings(
                breakerRequestVolumeThreshold, breakerFailureRatio, breakerDelayMs, breakerSuccessThreshold);
    }

    /** The model ({@code name} or {@code name@version}) that answers when model {@code name} cannot, or null. */
    public String fallbackModel(String name) {
        Optional<String> v = config.getOptionalValue(FALLBACK_MODEL_PREFIX + name, String.class);
        return v.map(String::trim).filter(s -> !s.isEmpty()).orElse(null);
    }

    /**
     * The fixed answer when neither model {@code name} nor its fallback model can answer: {@code
     * anvil.resilience.fallback-message.<name>}, else {@code anvil.resilience.fallback-message}, else null (then: 503).
     */
    public String fallbackMessage(String name) {
        return config.getOptionalValue(FALLBACK_MESSAGE_PREFIX + name, String.class)
                .filter(s -> !s.isBlank())
                .orElse(fallbackMessage.filter(s -> !s.isBlank()).orElse(null));
    }
}
