package dev.anvil.routing;

import java.util.List;

/**
 * Where experiment routing sent one request: the experiment and variant, the exact version ({@code model@version}),
 * the variant's generation parameters (null = the caller's value stands), the shadow copies to run, and when the
 * routing happened (the start of the latency recorded for the outcome).
 *
 * @param recordOutcome false for a PAUSED experiment's control traffic, which is served but not measured
 */
public record Route(
        long experimentId,
        String experiment,
        String strategy,
        long variantId,
        String variant,
        String model,
        String version,
        Double temperature,
        Double topP,
        Integer maxTokens,
        String systemPrompt,
        List<Shadow> shadows,
        boolean recordOutcome,
        long routedAtNanos) {

    /** A shadow variant that gets a LOW-priority copy of the request; its answer is compared, never returned. */
    public record Shadow(
            long variantId, String variant, String version, Double temperature, Double topP, Integer maxTokens) {}

    public Route {
        shadows = shadows == null ? List.of() : List.copyOf(shadows);
    }

    /** {@code model@version}: what the request is served by. */
    public String modelRef() {
        return model + "@" + version;
    }
}
