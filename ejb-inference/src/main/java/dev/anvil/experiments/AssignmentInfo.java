package dev.anvil.experiments;

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
        List<String> shadowVariants) {}
