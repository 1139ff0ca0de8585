package dev.anvil.serving.series;

import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.Scheduler;
import dev.anvil.serving.ModelRuntime;
import dev.anvil.serving.ServedModel;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A short history of every loaded model version, kept in memory so that the admin console (and any other client of
 * {@code GET /api/serving/versions}) can draw the last minutes of serving without Prometheus. Request threads and the
 * batching thread record into the version's {@link IntervalTally} ({@link dev.anvil.serving.ServingMetrics} does,
 * next to the MicroProfile metrics); {@link ServingSampler} calls {@link #sample} once per interval, which turns each
 * tally into a {@link ServingSample} in the version's {@link SampleRing}. A version that is no longer loaded loses
 * its history at the next sample. Each node keeps its own: the series describe this server.
 */
@ApplicationScoped
public class ServingTimeSeries {

    /** Latencies kept per version and interval for the percentiles. */
    static final int RESERVOIR = 1024;

    /** One loaded version's history. */
    public static final class VersionSeries {
        private final String model;
        private final String version;
        private final boolean embedding;
        private final SampleRing<ServingSample> samples;
        private final IntervalTally tally;
        private volatile ModelRuntime.State state = ModelRuntime.State.LOADED;
        private volatile boolean serving;
        private volatile long kvTotal;

        VersionSeries(ServedModel model, int capacity) {
            this.model = model.name();
            this.version = model.version();
            this.embedding = model.embedding() != null;
            this.samples = new SampleRing<>(capacity, ServingSample::at);
            this.tally = new IntervalTally(RESERVOIR, model.ref().hashCode());
        }

        public String model() {
            return model;
        }

        public String version() {
            return version;
        }

        public boolean embedding() {
            return embedding;
        }

        public ModelRuntime.State state() {
            return state;
        }

        /** Whether this version serves its model name (else it is pinned, an experiment variant or a standby). */
        public boolean serving() {
            return serving;
        }

        /** KV cache blocks of the version's pool (0 for an embedding model). */
        public long kvTotal() {
            return kvTotal;
        }

        public SampleRing<ServingSample> samples() {
            return samples;
        }

        public IntervalTally tally() {
            return tally;
        }
    }

    @Inject
    TimeSeriesConfig config;

    private final Map<String, VersionSeries> series = new ConcurrentHashMap<>();
    private long lastSampleNanos;

    /** The tally that {@code model}'s requests record into. */
    public IntervalTally tally(ServedModel model) {
        return entry(model).tally;
    }

    private VersionSeries entry(ServedModel model) {
        return series.computeIfAbsent(model.ref(), ref -> new VersionSeries(model, config.capacity()));
    }

    /**
     * Takes one sample of every runtime in {@code loaded} (the runtimes not yet unloaded) and forgets the versions
     * that are no longer among them.
     *
     * @param servesItsName whether a runtime is the one that serves its model name
     * @param breakerState  the circuit breaker state of a version
     */
    public synchronized void sample(
            List<ModelRuntime> loaded,
            Predicate<ModelRuntime> servesItsName,
            Function<ServedModel, String> breakerState,
            long nowMillis) {
        long now = System.nanoTime();
        // The timer can fire late: rates are over the time that really passed.
        double seconds = lastSampleNanos == 0 ? config.intervalSeconds() : (now - lastSampleNanos) / 1e9;
        lastSampleNanos = now;
        Set<String> live = new HashSet<>();
        for (ModelRuntime runtime : loaded) {
            if (runtime.state() == ModelRuntime.State.STOPPED) continue;
            ServedModel model = runtime.served();
            live.add(model.ref());
            VersionSeries v = entry(model);
            v.state = runtime.state();
            v.serving = servesItsName.test(runtime);
            v.kvTotal = runtime.scheduler() == null
                    ? 0
                    : runtime.scheduler().kvCache().totalBlocks();
            v.samples.add(ServingSample.of(nowMillis, seconds, v.tally.drain(), gauges(runtime, breakerState)));
        }
        series.keySet().retainAll(live);
    }

    private static ServingSample.Gauges gauges(ModelRuntime runtime, Function<ServedModel, String> breakerState) {
        String breaker = breakerState.apply(runtime.served());
        Scheduler s = runtime.scheduler();
        if (s == null) {
            return new ServingSample.Gauges(runtime.embeddings().stats().waiting(), 0, 0, 0, breaker);
        }
        Scheduler.Stats stats = s.stats();
        KvCachePool kv = s.kvCache();
        return new ServingSample.Gauges(stats.waiting(), stats.running(), kv.usedBlocks(), kv.freeBlocks(), breaker);
    }

    /** The loaded versions (as of the last sample), by model and version. */
    public List<VersionSeries> versions() {
        return series.values().stream()
                .filter(v -> v.samples.size() > 0)
                .sorted(Comparator.comparing(VersionSeries::model).thenComparing(VersionSeries::version))
                .toList();
    }

    public int intervalSeconds() {
        return config.intervalSeconds();
    }

    public int windowSeconds() {
        return config.capacity() * config.intervalSeconds();
    }
}
