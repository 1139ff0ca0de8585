package dev.anvil.experiments;

import dev.anvil.experiments.domain.Experiment;
import dev.anvil.experiments.domain.ExperimentEvent;
import dev.anvil.experiments.domain.Variant;
import java.time.Instant;
import java.util.List;

/** An experiment as read by callers outside the transaction: plain values, no entities. */
public record ExperimentInfo(
        String name,
        String model,
        String strategy,
        String status,
        String hypothesis,
        String primaryMetric,
        Double maxErrorRate,
        Long maxP95LatencyMs,
        Double maxNegativeFeedbackRate,
        int minimumSample,
        List<Integer> canarySteps,
        Instant createdAt,
        String createdBy,
        Instant startedAt,
        Instant endedAt,
        String endReason,
        List<VariantInfo> variants,
        List<EventInfo> events) {

    public record VariantInfo(
            String name,
            String modelVersion,
            Double temperature,
            Double topP,
            Integer maxTokens,
            String systemPrompt,
            int weightPercent,
            boolean control) {
        static VariantInfo of(Variant v) {
            return new VariantInfo(
                    v.name(),
                    v.modelVersion(),
                    v.temperature(),
                    v.topP(),
                    v.maxTokens(),
                    v.systemPrompt(),
                    v.weightPercent(),
                    v.control());
        }
    }

    public record EventInfo(String action, String from, String to, String actor, Instant at, String reason) {
        static EventInfo of(ExperimentEvent e) {
            return new EventInfo(
                    e.action().name(),
                    e.from() == null ? null : e.from().name(),
                    e.to().name(),
                    e.actor(),
                    e.occurredAt(),
                    e.reason());
        }
    }

    static ExperimentInfo of(Experiment e) {
        var g = e.guardrails();
        return new ExperimentInfo(
                e.name(),
                e.modelName(),
                e.strategy().name(),
                e.status().name(),
                e.hypothesis(),
                e.primaryMetric().key(),
                g.maxErrorRate(),
                g.maxP95LatencyMs(),
                g.maxNegativeFeedbackRate(),
                g.minimumSample(),
                e.canaryStepList(),
                e.createdAt(),
                e.createdBy(),
                e.startedAt(),
                e.endedAt(),
                e.endReason(),
                e.variants().stream().map(VariantInfo::of).toList(),
                e.events().stream().map(EventInfo::of).toList());
    }
}
