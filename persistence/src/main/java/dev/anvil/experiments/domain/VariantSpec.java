package dev.anvil.experiments.domain;

/** What a new variant is made of; validated by {@link Variant}'s constructor. */
public record VariantSpec(
        String name,
        String modelVersion,
        Double temperature,
        Double topP,
        Integer maxTokens,
        String systemPrompt,
        Integer weightPercent,
        boolean control) {}
