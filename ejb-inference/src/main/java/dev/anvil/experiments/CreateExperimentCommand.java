package dev.anvil.experiments;

import dev.anvil.experiments.domain.VariantSpec;
import java.util.List;

/** Everything needed to create an experiment; the optional guardrails and minimum sample may be null. */
public record CreateExperimentCommand(
        String name,
        String model,
        String strategy,
        String hypothesis,
        String primaryMetric,
        Double maxErrorRate,
        Long maxP95LatencyMs,
        Double maxNegativeFeedbackRate,
        Integer minimumSample,
        String canarySteps,
        List<VariantSpec> variants) {}
