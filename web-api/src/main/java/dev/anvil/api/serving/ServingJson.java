package dev.anvil.api.serving;

import dev.anvil.serving.ModelLoads;
import dev.anvil.serving.series.ServingSample;
import dev.anvil.serving.series.ServingTimeSeries;
import jakarta.json.bind.annotation.JsonbNillable;
import jakarta.json.bind.annotation.JsonbPropertyOrder;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** The live serving state of this server's loaded versions, with their recent history. */
final class ServingJson {

    private ServingJson() {}

    @Schema(
            name = "ServingOverview",
            description = "Every model version loaded on this server, with its recent samples (oldest first)")
    @JsonbPropertyOrder({"at", "intervalSeconds", "windowSeconds", "loads", "data"})
    public record Overview(
            @Schema(required = true, description = "When the answer was made (epoch milliseconds)")
            long at,

            @Schema(required = true, description = "Seconds between two samples")
            int intervalSeconds,

            @Schema(required = true, description = "Seconds of history kept per version")
            int windowSeconds,

            @Schema(
                    required = true,
                    description = "Model loads on this server in progress, and those finished in the last 10"
                            + " minutes (at most 32), oldest first")
            List<Load> loads,

            @Schema(required = true) List<Version> data) {}

    @Schema(
            name = "ServingLoad",
            description = "A model version being loaded (or loaded lately): its phase and how much of its weights"
                    + " the engine has read")
    @JsonbNillable
    @JsonbPropertyOrder({
        "model",
        "version",
        "phase",
        "bytesRead",
        "bytesTotal",
        "fractionRead",
        "startedAt",
        "finishedAt",
        "error"
    })
    public record Load(
            @Schema(required = true) String model,
            @Schema(required = true) String version,

            @Schema(
                    required = true,
                    type = SchemaType.STRING,
                    enumeration = {"READING", "STARTING", "WARMING", "LOADED", "FAILED"},
                    description = "READING the weights, STARTING the batch loop, WARMING up, then LOADED or FAILED")
            String phase,

            @Schema(required = true, description = "Bytes of tensor data read so far")
            long bytesRead,

            @Schema(required = true, description = "Bytes of tensor data in the file (0 until known)")
            long bytesTotal,

            @Schema(required = true, description = "bytesRead / bytesTotal, 0..1 (1 once past READING)")
            double fractionRead,

            @Schema(required = true, description = "When the load started (epoch milliseconds)")
            long startedAt,

            @Schema(nullable = true, description = "When it ended (epoch milliseconds); null while in progress")
            Long finishedAt,

            @Schema(nullable = true, description = "Why it FAILED")
            String error) {

        static Load of(ModelLoads.Status s) {
            return new Load(
                    s.model(),
                    s.version(),
                    s.phase().name(),
                    s.bytesRead(),
                    s.bytesTotal(),
                    s.fractionRead(),
                    s.startedAt().toEpochMilli(),
                    s.finishedAt() == null ? null : s.finishedAt().toEpochMilli(),
                    s.error());
        }
    }

    @Schema(name = "ServingVersion", description = "A loaded model version and its samples")
    @JsonbNillable
    @JsonbPropertyOrder({
        "model",
        "version",
        "stage",
        "state",
        "serving",
        "embedding",
        "kvBlocksTotal",
        "latest",
        "samples"
    })
    public record Version(
            @Schema(required = true) String model,
            @Schema(required = true) String version,

            @Schema(
                    nullable = true,
                    type = SchemaType.STRING,
                    enumeration = {"NONE", "STAGING", "PRODUCTION", "ARCHIVED"},
                    description = "Registry stage; null when the registry cannot be read")
            String stage,

            @Schema(
                    required = true,
                    type = SchemaType.STRING,
                    enumeration = {"LOADED", "WARMING", "SERVING", "DRAINING", "STOPPED"},
                    description = "The runtime's state")
            String state,

            @Schema(
                    required = true,
                    description = "Whether it serves its model name (else pinned, experiment variant or standby)")
            boolean serving,

            @Schema(required = true, description = "An embedding model (no batch or KV cache)")
            boolean embedding,

            @Schema(required = true, description = "KV cache blocks of its pool (0 for an embedding model)")
            long kvBlocksTotal,

            @Schema(required = true, description = "The newest sample")
            Sample latest,

            @Schema(required = true, description = "Samples newer than `since`, oldest first")
            List<Sample> samples) {

        static Version of(ServingTimeSeries.VersionSeries v, String stage, long since) {
            return new Version(
                    v.model(),
                    v.version(),
                    stage,
                    v.state().name(),
                    v.serving(),
                    v.embedding(),
                    v.kvTotal(),
                    Sample.of(v.samples().latest()),
                    v.samples().since(since).stream().map(Sample::of).toList());
        }
    }

    @Schema(
            name = "ServingSample",
            description = "One interval of one version: rates over the interval ending at `at`, gauges at `at`")
    @JsonbNillable
    @JsonbPropertyOrder({
        "at",
        "requestsPerSecond",
        "tokensPerSecond",
        "ttftP50Ms",
        "ttftP99Ms",
        "tpotP50Ms",
        "tpotP99Ms",
        "errorRate",
        "overloadRate",
        "queue",
        "batch",
        "kvBlocksUsed",
        "kvBlocksFree",
        "breaker"
    })
    public record Sample(
            @Schema(required = true, description = "Epoch milliseconds")
            long at,

            @Schema(required = true, description = "Requests finished per second")
            double requestsPerSecond,

            @Schema(required = true, description = "Tokens generated per second")
            double tokensPerSecond,

            @Schema(nullable = true, description = "Median time to first token (ms)")
            Double ttftP50Ms,

            @Schema(nullable = true, description = "99th percentile time to first token (ms)")
            Double ttftP99Ms,

            @Schema(nullable = true, description = "Median time per output token (ms)")
            Double tpotP50Ms,

            @Schema(nullable = true, description = "99th percentile time per output token (ms)")
            Double tpotP99Ms,

            @Schema(
                    nullable = true,
                    description = "Failed requests / (finished + refused with 503); null without requests")
            Double errorRate,

            @Schema(nullable = true, description = "Requests refused with 503 / (finished + refused with 503)")
            Double overloadRate,

            @Schema(required = true, description = "Requests waiting for admission")
            long queue,

            @Schema(required = true, description = "Sequences in the running batch")
            long batch,

            @Schema(required = true) long kvBlocksUsed,
            @Schema(required = true) long kvBlocksFree,

            @Schema(
                    required = true,
                    type = SchemaType.STRING,
                    enumeration = {"CLOSED", "OPEN", "HALF_OPEN"},
                    description = "The version's circuit breaker")
            String breaker) {

        static Sample of(ServingSample s) {
            return new Sample(
                    s.at(),
                    s.requestsPerSecond(),
                    s.tokensPerSecond(),
                    s.ttftP50Ms(),
                    s.ttftP99Ms(),
                    s.tpotP50Ms(),
                    s.tpotP99Ms(),
                    s.errorRate(),
                    s.overloadRate(),
                    s.queue(),
                    s.batch(),
                    s.kvUsed(),
                    s.kvFree(),
                    s.breaker());
        }
    }
}
