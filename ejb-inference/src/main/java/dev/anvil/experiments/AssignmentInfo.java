package dev.anvil.experiments;

import dev.anvil.experiments.domain.Experiment;
import dev.anvil.experiments.domain.Variant;
import java.time.Instant;
import java.util.List;

/**
 * The variant a subject is served by: the variant's model version and generation parameters, the bucket the key
 * hashed to, when the subject was first assigned, and for SHADOW experiments the variants that receive a copy of
 * the request (their responses are discarded).
 */
public record AssignmentInfo(
        String experiment,
        String strategy,
        String model,
        ExperimentInfo.VariantInfo variant,
        int bucket,
        Instant firstSeen,
        boolean newAssignment,
        List<String> shadowVariants) {

    /** The assignment of a subject in {@code experiment} to {@code variant}. */
    static AssignmentInfo of(
            Experiment experiment,
            Variant variant,
            int bucket,
            Instant firstSeen,
            boolean newAssignment,
            List<String> shadowVariants) {
        return new AssignmentInfo(
                experiment.name(),
                experiment.strategy().name(),
                experiment.modelName(),
                ExperimentInfo.VariantInfo.of(variant),
                bucket,
                firstSeen,
                newAssignment,
                shadowVariants);
    }
}
