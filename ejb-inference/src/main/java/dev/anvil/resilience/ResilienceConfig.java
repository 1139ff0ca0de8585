package dev.anvil.resilience;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Optional;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;

/**
 * The {@code anvil.resilience.*} keys (MicroProfile Config). The submission's retry and timeout are MicroProfile
 * Fault Tolerance annotations on {@link SubmissionAttempts#submit} and are tuned with Fault Tolerance's own keys
 * (see the README).
 */
@ApplicationScoped
public class ResilienceConfig {

    public static final String FALLBACK_MODEL = "anvil.resilience.fallback-model.";
    public static final String FALLBACK_MESSAGE = "anvil.resilience.fallback-message";
    public static final String BREAKER = "anvil.resilience.breaker.";

    private Config config;
    private BreakerSettings breaker;
    private String fallbackMessage;

    @PostConstruct
    void load() {
        config = ConfigProvider.getConfig(ResilienceConfig.class.getClassLoader());
        breaker = new BreakerSettings(
                config.getOptionalValue(BREAKER + "request-volume-threshold", Integer.class).orElse(8),
                config.getOptionalValue(BREAKER + "failure-ratio", Double.class).orElse(0.5),
                config.getOptionalValue(BREAKER + "delay-ms", Long.class).orElse(10_000L),
                config.getOptionalValue(BREAKER + "success-threshold", Integer.class).orElse(2));
        fallbackMessage = config.getOptionalValue(FALLBACK_MESSAGE, String.class).filter(s -> !s.isBlank()).orElse(null);
    }

    public BreakerSettings breaker() {
        return breaker;
    }

    /** The model ({@code name} or {@code name@version}) that answers when model {@code name} cannot, or null. */
    public String fallbackModel(String name) {
        Optional<String> v = config.getOptionalValue(FALLBACK_MODEL + name, String.class);
        return v.map(String::trim).filter(s -> !s.isEmpty()).orElse(null);
    }

    /**
     * The fixed answer when neither model {@code name} nor its fallback model can answer: {@code
     * anvil.resilience.fallback-message.<name>}, else {@code anvil.resilience.fallback-message}, else null (then: 503).
     */
    public String fallbackMessage(String name) {
        return config.getOptionalValue(FALLBACK_MESSAGE + "." + name, String.class).filter(s -> !s.isBlank()).orElse(fallbackMessage);
    }
}
