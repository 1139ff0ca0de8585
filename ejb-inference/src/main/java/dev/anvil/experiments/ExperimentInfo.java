package dev.anvil.experiments;

import dev.anvil.experiments.domain.Experiment;
import dev.anvil.experiments.domain.ExperimentEvent;
import dev.anvil.experiments.domain.ExperimentText;
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

    /** {@code weights}: what a WEIGHTS_CHANGED event set or a STARTED event started with (variant to percent), else null. */
    public record EventInfo(
            String action,
            String from,
            String to,
            String actor,
            Instant at,
            String reason,
            java.util.Map<String, Integer> weights) {
        static EventInfo of(ExperimentEvent e) {
            return new EventInfo(
                    e.action().name(),
                    e.from() == null ? null : e.from().name(),
                    e.to().name(),
                    e.actor(),
                    e.occurredAt(),
                    e.reason(),
                    weightsOf(e.action().name(), e.reason()));
        }

        /**
         * The weights a WEIGHTS_CHANGED event set (or a STARTED event started with), read back from its reason, which
         * the domain writes as
         * {@code weights {a=10, b=90}} or {@code WHY (weights {a=10, b=90})} (variant names are
         * {@link ExperimentText#VARIANT_NAME}, so the braces, '=' and ", " are unambiguous); null for any other event
         * or text that is not of that form.
         */
        static java.util.Map<String, Integer> weightsOf(String action, String reason) {
            if (!("WEIGHTS_CHANGED".equals(action) || "STARTED".equals(action)) || reason == null) return null;
            String body;
            if (reason.startsWith("weights {") && reason.endsWith("}")) {
                body = reason.substring("weights {".length(), reason.length() - 1);
            } else if (reason.endsWith("})") && reason.lastIndexOf(" (weights {") >= 0) {
                body = reason.substring(
                        reason.lastIndexOf(" (weights {") + " (weights {".length(), reason.length() - 2);
            } else {
                return null;
            }
            java.util.Map<String, Integer> weights = new java.util.LinkedHashMap<>();
            for (String entry : body.split(", ", -1)) {
                int eq = entry.indexOf('=');
                if (eq <= 0) return null;
                String name = entry.substring(0, eq);
                String value = entry.substring(eq + 1);
                if (!ExperimentText.VARIANT_NAME.matcher(name).matches() || !value.matches("\\d{1,3}")) return null;
                int percent = Integer.parseInt(value);
                if (percent > 100 || weights.put(name, percent) != null) return null;
            }
            return java.util.Collections.unmodifiableMap(weights);
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
