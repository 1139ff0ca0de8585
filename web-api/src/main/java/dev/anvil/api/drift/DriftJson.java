package dev.anvil.api.drift;

import dev.anvil.drift.DriftStatistics;
import dev.anvil.drift.VersionDrift;
import jakarta.json.bind.annotation.JsonbNillable;
import jakarta.json.bind.annotation.JsonbPropertyOrder;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** The drift API's JSON. */
final class DriftJson {

    private DriftJson() {}

    @Schema(name = "DriftVersionSummary", description = "A watched version and the features that have drifted")
    @JsonbPropertyOrder({"model", "version", "referenceSince", "breached"})
    public record Summary(
            @Schema(required = true) String model,
            @Schema(required = true) String version,
            @Schema(required = true, format = "date-time") Instant referenceSince,

            @Schema(required = true, description = "Features whose PSI or KL is at or above its threshold")
            List<String> breached) {

        static Summary of(String ref, VersionDrift.Report r) {
            int at = ref.lastIndexOf('@');
            return new Summary(
                    ref.substring(0, at),
                    ref.substring(at + 1),
                    r.referenceSince(),
                    r.breached().stream().map(f -> f.feature().wireName()).toList());
        }
    }

    @Schema(name = "DriftVersionList")
    public record Summaries(@Schema(required = true) List<Summary> data) {

        static Summaries of(Map<String, VersionDrift.Report> reports) {
            return new Summaries(reports.entrySet().stream()
                    .sorted(Map.Entry.comparingByKey())
                    .map(e -> Summary.of(e.getKey(), e.getValue()))
                    .toList());
        }
    }

    @Schema(
            name = "DriftHistogram",
            description = "Shared bins (numeric: upper edges from the reference's quantiles; categorical: categories) "
                    + "and each window's proportions in them (smoothed: an empty bin counts 1e-4)")
    public record Histogram(
            @Schema(required = true) List<String> bins,
            @Schema(required = true) List<Double> reference,
            @Schema(required = true) List<Double> current) {

        static Histogram of(DriftStatistics.Comparison c) {
            return new Histogram(c.bins(), boxed(c.reference()), boxed(c.current()));
        }

        private static List<Double> boxed(double[] v) {
            return Arrays.stream(v).boxed().toList();
        }
    }

    @Schema(name = "DriftFeature", description = "One feature's windows and statistics")
    @JsonbNillable
    @JsonbPropertyOrder({"feature", "referenceCount", "currentCount", "psi", "kl", "breached", "histogram"})
    public record Feature(
            @Schema(
                    required = true,
                    enumeration = {
                        "prompt_tokens",
                        "completion_tokens",
                        "latency_ms",
                        "ttft_ms",
                        "mean_logprob",
                        "finish_reason",
                        "guardrail",
                        "feedback",
                        "prompt_embedding"
                    })
            String feature,

            @Schema(required = true) int referenceCount,
            @Schema(required = true) int currentCount,

            @Schema(
                    nullable = true,
                    description = "Population Stability Index; null until both windows hold min-samples")
            Double psi,

            @Schema(nullable = true, description = "KL divergence of the current window from the reference")
            Double kl,

            @Schema(required = true) boolean breached,
            @Schema(nullable = true) Histogram histogram) {

        static Feature of(VersionDrift.FeatureReport r) {
            DriftStatistics.Comparison c = r.comparison();
            return new Feature(
                    r.feature().wireName(),
                    r.referenceCount(),
                    r.currentCount(),
                    c == null ? null : c.psi(),
                    c == null ? null : c.kl(),
                    r.breached(),
                    c == null ? null : Histogram.of(c));
        }
    }

    @Schema(name = "DriftThresholds")
    public record Thresholds(
            @Schema(required = true) double psi,
            @Schema(required = true) double kl,
            @Schema(required = true) int minSamples,
            @Schema(required = true) int referenceSize,
            @Schema(required = true) int windowSize) {}

    @Schema(name = "DriftReport", description = "A version's drift: its reference, thresholds and every feature")
    @JsonbPropertyOrder({"model", "version", "referenceSince", "thresholds", "features"})
    public record Report(
            @Schema(required = true) String model,
            @Schema(required = true) String version,
            @Schema(required = true, format = "date-time") Instant referenceSince,
            @Schema(required = true) Thresholds thresholds,
            @Schema(required = true) List<Feature> features) {}

    @Schema(name = "DriftPinRequest")
    public record Pin(
            @Schema(description = "Why the current traffic is the new normal; recorded in the history")
            String reason) {}
}
