package dev.anvil.experiments;

import java.util.List;

/**
 * What the request path needs of a RUNNING or PAUSED experiment: ids (outcomes are written by id, off the request
 * path), the strategy, and each variant's version, parameters and current weight. A snapshot; plain values.
 */
public record LiveExperiment(
        long id, String name, String model, String strategy, String status, List<Variant> variants) {

    public record Variant(
            long id,
            String name,
            String modelVersion,
            Double temperature,
            Double topP,
            Integer maxTokens,
            String systemPrompt,
            int weightPercent,
            boolean control) {}

    public boolean running() {
        return "RUNNING".equals(status);
    }

    public Variant control() {
        return variants.stream().filter(Variant::control).findFirst().orElseThrow();
    }

    public Variant variant(String variantName) {
        return variants.stream()
                .filter(v -> v.name().equals(variantName))
                .findFirst()
                .orElse(null);
    }
}
