package dev.anvil.serving;

import dev.anvil.engine.Accelerator;
import dev.anvil.engine.DeviceBackend;
import dev.anvil.engine.DevicePlacement;
import dev.anvil.engine.EmbeddingQueue;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.Scheduler;
import dev.anvil.metrics.MetricMetadata;
import dev.anvil.serving.series.IntervalTally;
import dev.anvil.serving.series.ServingTimeSeries;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToLongFunction;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricID;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;
import org.eclipse.microprofile.metrics.Tag;

/**
 * Serving metrics (MicroProfile Metrics, application scope), tagged with {@code model} and {@code version}.
 * In the Prometheus output (names get the {@code application_} scope prefix-free form SmallRye writes, units as
 * suffixes):
 * <ul>
 *   <li>{@code anvil_inference_requests_total{outcome}}: ok, cancelled, error, not_found, invalid,
 *       context_length, overloaded, unavailable</li>
 *   <li>{@code anvil_inference_prompt_tokens_total}, {@code anvil_inference_generated_tokens_total}</li>
 *   <li>timers (quantiles 0.5/0.9/0.99, see {@code mp.metrics.distribution.percentiles}):
 *       {@code anvil_inference_time_to_first_token_seconds}, {@code anvil_inference_time_per_output_token_seconds},
 *       {@code anvil_inference_request_latency_seconds}</li>
 *   <li>gauges: {@code anvil_inference_queue_length}, {@code anvil_inference_batch_size},
 *       {@code anvil_inference_kv_blocks_used}, {@code anvil_inference_kv_blocks_free},
 *       {@code anvil_inference_preemptions}, {@code anvil_inference_steps},
 *       {@code anvil_inference_prefix_cache_blocks} (KV blocks holding a cached prefix, in use or evictable)</li>
 *   <li>prefix caching (when on): {@code anvil_inference_prefix_cache_queried_tokens_total} (prompt tokens looked
 *       up, once per sequence when first admitted) and {@code anvil_inference_prefix_cache_hit_tokens_total} (of
 *       those, found cached and not computed); the hit rate is their ratio</li>
 *   <li>speculative decoding (versions that speculate): {@code anvil_inference_speculative_drafted_tokens} (draft
 *       tokens verified since the version was loaded), {@code anvil_inference_speculative_accepted_tokens} (of those,
 *       kept by the target and emitted) and {@code anvil_inference_speculative_acceptance_rate} (their ratio, 0 before
 *       the first draft)</li>
 * </ul>
 * The same events feed the in-memory {@link ServingTimeSeries} of the admin console's overview.
 */
@ApplicationScoped
public class ServingMetrics {

    static final String REQUESTS = "anvil.inference.requests";
    static final String PROMPT_TOKENS = "anvil.inference.prompt.tokens";
    static final String GENERATED_TOKENS = "anvil.inference.generated.tokens";
    static final String TTFT = "anvil.inference.time.to.first.token";
    static final String TPOT = "anvil.inference.time.per.output.token";
    static final String LATENCY = "anvil.inference.request.latency";
    static final String QUEUE = "anvil.inference.queue.length";
    static final String BATCH = "anvil.inference.batch.size";
    static final String KV_USED = "anvil.inference.kv.blocks.used";
    static final String KV_FREE = "anvil.inference.kv.blocks.free";
    static final String PREEMPTIONS = "anvil.inference.preemptions";
    static final String STEPS = "anvil.inference.steps";
    static final String EMBEDDED_INPUTS = "anvil.embeddings.inputs";
    static final String EMBEDDED_TOKENS = "anvil.embeddings.tokens";
    static final String PREFIX_BLOCKS = "anvil.inference.prefix.cache.blocks";
    static final String PREFIX_QUERIED = "anvil.inference.prefix.cache.queried.tokens";
    static final String PREFIX_HITS = "anvil.inference.prefix.cache.hit.tokens";
    static final String SPEC_DRAFTED = "anvil.inference.speculative.drafted.tokens";
    static final String SPEC_ACCEPTED = "anvil.inference.speculative.accepted.tokens";
    static final String SPEC_RATE = "anvil.inference.speculative.acceptance.rate";
    static final String DEVICE_WEIGHTS = "anvil.inference.device.weight.bytes";
    static final String DEVICE_KV = "anvil.inference.device.kv.bytes";
    static final String DEVICE_FREE = "anvil.device.memory.free.bytes";
    static final String DEVICE_USED = "anvil.device.memory.used.bytes";

    private static final Metadata REQUESTS_MD =
            MetricMetadata.of(REQUESTS, "Inference requests by outcome", MetricUnits.NONE);
    private static final Metadata PROMPT_MD =
            MetricMetadata.of(PROMPT_TOKENS, "Prompt tokens of accepted requests", MetricUnits.NONE);
    private static final Metadata GENERATED_MD =
            MetricMetadata.of(GENERATED_TOKENS, "Generated tokens (all choices)", MetricUnits.NONE);
    private static final Metadata TTFT_MD =
            MetricMetadata.of(TTFT, "Time from submission to the first generated token", MetricUnits.SECONDS);
    private static final Metadata TPOT_MD = MetricMetadata.of(
            TPOT, "Average time between output tokens after the first, per request", MetricUnits.SECONDS);
    private static final Metadata PREFIX_QUERIED_MD =
            MetricMetadata.of(PREFIX_QUERIED, "Prompt tokens looked up in the prefix cache", MetricUnits.NONE);
    private static final Metadata PREFIX_HITS_MD =
            MetricMetadata.of(PREFIX_HITS, "Prompt tokens found in the prefix cache (not computed)", MetricUnits.NONE);
    private static final Metadata LATENCY_MD =
            MetricMetadata.of(LATENCY, "Time from submission to the last token of the request", MetricUnits.SECONDS);

    @Inject
    MetricRegistry registry;

    @Inject
    ServingTimeSeries series;

    private static Tag[] tags(ServedModel m) {
        return new Tag[] {new Tag("model", m.name()), new Tag("version", m.version())};
    }

    private static Tag[] tags(ServedModel m, String outcome) {
        return new Tag[] {new Tag("model", m.name()), new Tag("version", m.version()), new Tag("outcome", outcome)};
    }

    /** Gauges of a runtime's scheduler; removed again by {@link #unregister}. */
    void register(ModelRuntime runtime) {
        Scheduler s = runtime.scheduler();
        if (s == null) {
            registerEmbeddings(runtime);
            return;
        }
        KvCachePool kv = s.kvCache();
        registerDevice(runtime);
        gauge(
                runtime,
                QUEUE,
                "Requests waiting for admission to the batch",
                x -> s.stats().waiting());
        gauge(runtime, BATCH, "Sequences in the running batch", x -> s.stats().running());
        gauge(runtime, KV_USED, "KV cache blocks in use", x -> kv.usedBlocks());
        gauge(
                runtime,
                KV_FREE,
                "KV cache blocks free (cached prefix blocks no request holds included: they are reused when needed)",
                x -> kv.freeBlocks());
        gauge(
                runtime,
                PREEMPTIONS,
                "Sequences preempted for lack of KV cache since the model was loaded",
                x -> s.stats().preemptions());
        gauge(
                runtime,
                STEPS,
                "Batched forward passes since the model was loaded",
                x -> s.stats().steps());
        gauge(runtime, PREFIX_BLOCKS, "KV cache blocks holding a cached prompt prefix", x -> kv.cachedBlocks());
        if (s.speculation().enabled()) {
            gauge(
                    runtime,
                    SPEC_DRAFTED,
                    "Speculative draft tokens verified since the model was loaded",
                    x -> s.stats().draftedTokens());
            gauge(
                    runtime,
                    SPEC_ACCEPTED,
                    "Speculative draft tokens the target kept since the model was loaded",
                    x -> s.stats().acceptedTokens());
            registry.gauge(
                    MetricMetadata.of(
                            SPEC_RATE,
                            "Fraction of speculative draft tokens the target kept since the model was loaded",
                            MetricUnits.NONE),
                    runtime,
                    r -> {
                        double rate = s.stats().acceptanceRate();
                        return Double.isNaN(rate) ? 0.0 : rate;
                    },
                    tags(runtime.served()));
        }
        if (s.prefixCaching()) {
            registry.counter(PREFIX_QUERIED_MD, tags(runtime.served()));
            registry.counter(PREFIX_HITS_MD, tags(runtime.served()));
        }
        // Make the request counters visible at 0 before the first request.
        registry.counter(REQUESTS_MD, tags(runtime.served(), "ok"));
        registry.counter(PROMPT_MD, tags(runtime.served()));
        registry.counter(GENERATED_MD, tags(runtime.served()));
    }

    /**
     * An embedding model's gauges: its waiting requests and forward passes under the generation names (same meaning),
     * and the inputs and tokens it embedded.
     */
    private void registerEmbeddings(ModelRuntime runtime) {
        EmbeddingQueue q = runtime.embeddings();
        gauge(
                runtime,
                QUEUE,
                "Requests waiting for admission to the batch",
                x -> q.stats().waiting());
        gauge(
                runtime,
                STEPS,
                "Batched forward passes since the model was loaded",
                x -> q.stats().passes());
        gauge(
                runtime,
                EMBEDDED_INPUTS,
                "Inputs embedded since the model was loaded",
                x -> q.stats().inputs());
        gauge(
                runtime,
                EMBEDDED_TOKENS,
                "Tokens embedded since the model was loaded",
                x -> q.stats().tokens());
        registry.counter(REQUESTS_MD, tags(runtime.served(), "ok"));
    }

    /** One embeddings request accepted (its inputs queued). */
    void embeddingRequest(ModelRuntime runtime) {
        registry.counter(REQUESTS_MD, tags(runtime.served(), "ok")).inc();
        series.tally(runtime.served()).completed(0);
    }

    private void gauge(ModelRuntime runtime, String name, String description, ToLongFunction<Object> value) {
        registry.gauge(
                MetricMetadata.of(name, description, MetricUnits.NONE),
                runtime,
                r -> value.applyAsLong(r),
                tags(runtime.served()));
    }

    /**
     * Where the version runs ({@code device} tag: {@code cpu} or {@code cuda:N}) with its weights and KV cache bytes on
     * that device (0 on the CPU); for a GPU also that device's memory used and free, probed at each scrape.
     */
    private void registerDevice(ModelRuntime runtime) {
        DevicePlacement.Decision placed = runtime.placement();
        Tag[] tags = deviceTags(runtime);
        DeviceBackend backend = runtime.deviceBackend();
        registry.gauge(
                MetricMetadata.of(
                        DEVICE_WEIGHTS,
                        "Bytes of the version's weights on its device (0 on the CPU)",
                        MetricUnits.BYTES),
                runtime,
                r -> backend == null ? 0 : backend.weightBytes(),
                tags);
        registry.gauge(
                MetricMetadata.of(
                        DEVICE_KV, "Bytes of the version's KV cache on its device (0 on the CPU)", MetricUnits.BYTES),
                runtime,
                r -> backend == null ? 0 : backend.kvBytes(),
                tags);
        if (placed.cpu() || !gpusWithGauges.add(placed.device())) return;
        Tag[] dev = {new Tag("device", placed.deviceName())};
        Accelerator cuda = Accelerator.find("cuda").orElseThrow();
        int ordinal = placed.device();
        registry.gauge(
                MetricMetadata.of(DEVICE_FREE, "Free memory of a GPU", MetricUnits.BYTES),
                cuda,
                a -> memory(a, ordinal, true),
                dev);
        registry.gauge(
                MetricMetadata.of(DEVICE_USED, "Used memory of a GPU", MetricUnits.BYTES),
                cuda,
                a -> memory(a, ordinal, false),
                dev);
    }

    /** GPUs whose memory gauges are registered (once per device, whichever versions share it). */
    private final java.util.Set<Integer> gpusWithGauges = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private static double memory(Accelerator a, int ordinal, boolean free) {
        for (Accelerator.Device d : a.probe().devices())
            if (d.ordinal() == ordinal) return free ? d.freeBytes() : d.totalBytes() - d.freeBytes();
        return 0;
    }

    private static Tag[] deviceTags(ModelRuntime runtime) {
        return new Tag[] {
            new Tag("model", runtime.served().name()),
            new Tag("version", runtime.served().version()),
            new Tag("device", runtime.placement().deviceName())
        };
    }

    void unregister(ModelRuntime runtime) {
        if (runtime.scheduler() != null) {
            registry.remove(new MetricID(DEVICE_WEIGHTS, deviceTags(runtime)));
            registry.remove(new MetricID(DEVICE_KV, deviceTags(runtime)));
        }
        for (String name : new String[] {
            QUEUE,
            BATCH,
            KV_USED,
            KV_FREE,
            PREEMPTIONS,
            STEPS,
            EMBEDDED_INPUTS,
            EMBEDDED_TOKENS,
            PREFIX_BLOCKS,
            SPEC_DRAFTED,
            SPEC_ACCEPTED,
            SPEC_RATE
        }) {
            registry.remove(new MetricID(name, tags(runtime.served())));
        }
    }

    void rejected(ModelRuntime runtime, InferenceException e) {
        registry.counter(REQUESTS_MD, tags(runtime.served(), e.kind().name().toLowerCase(Locale.ROOT)))
                .inc();
        IntervalTally tally = series.tally(runtime.served());
        switch (e.kind()) {
            case OVERLOADED, UNAVAILABLE -> tally.overloaded();
            default -> tally.refused();
        }
    }

    /** Per-request timing, fed by the request's {@link GenerationHandle} on the batching thread. */
    GenerationHandle.RequestObserver observer(ModelRuntime runtime, int promptTokens) {
        ServedModel m = runtime.served();
        registry.counter(PROMPT_MD, tags(m)).inc(promptTokens);
        IntervalTally tally = series.tally(m);
        tally.prompt(promptTokens);
        long start = System.nanoTime();
        return new GenerationHandle.RequestObserver() {
            private long firstTokenNanos = -1;
            private final AtomicInteger tokens = new AtomicInteger();

            @Override
            public void prefixCacheLookup(int promptTokens, int cachedTokens) {
                registry.counter(PREFIX_QUERIED_MD, tags(m)).inc(promptTokens);
                registry.counter(PREFIX_HITS_MD, tags(m)).inc(cachedTokens);
            }

            @Override
            public void token(int choice) {
                long now = System.nanoTime();
                if (firstTokenNanos < 0) {
                    firstTokenNanos = now;
                    registry.timer(TTFT_MD, tags(m)).update(Duration.ofNanos(now - start));
                    tally.timeToFirstToken(now - start);
                }
                tokens.incrementAndGet();
            }

            @Override
            public void completed(GenerationResult result) {
                long now = System.nanoTime();
                boolean cancelled = result.choices().stream().anyMatch(c -> c.finishReason() == FinishReason.CANCELLED);
                registry.counter(REQUESTS_MD, tags(m, cancelled ? "cancelled" : "ok"))
                        .inc();
                registry.counter(GENERATED_MD, tags(m)).inc(tokens.get());
                tally.completed(tokens.get());
                registry.timer(LATENCY_MD, tags(m)).update(Duration.ofNanos(now - start));
                int n = tokens.get();
                // Per choice, tokens after the first arrive one per step: the mean gap is (last - first) / (n/choices -
                // 1).
                int perChoice = n / Math.max(1, result.choices().size());
                if (firstTokenNanos >= 0 && perChoice > 1) {
                    long tpot = (now - firstTokenNanos) / (perChoice - 1);
                    registry.timer(TPOT_MD, tags(m)).update(Duration.ofNanos(tpot));
                    tally.timePerOutputToken(tpot);
                }
            }

            @Override
            public void failed(Throwable error) {
                registry.counter(REQUESTS_MD, tags(m, "error")).inc();
                registry.counter(GENERATED_MD, tags(m)).inc(tokens.get());
                tally.failed(tokens.get());
            }
        };
    }
}
