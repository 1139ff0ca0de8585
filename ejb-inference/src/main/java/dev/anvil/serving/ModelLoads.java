package dev.anvil.serving;

import dev.anvil.engine.LoadProgress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The model loads of this server, in progress and recently finished: which phase each is in and how many bytes of
 * its weights the engine has read ({@link LoadProgress}). What the serving API reports as a version's loading
 * progress. A finished load (loaded or failed) is kept for {@link #KEEP} so a poller sees how it ended; at most
 * {@link #MAX_FINISHED} finished ones are kept, the oldest dropped first.
 */
public final class ModelLoads {

    /** How long a finished load stays listed. */
    static final Duration KEEP = Duration.ofMinutes(10);

    /** Finished loads kept at most (a loop of failing on-demand loads cannot grow the list). */
    static final int MAX_FINISHED = 32;

    public enum Phase {
        /** The engine reads the weights (bytesRead of bytesTotal). */
        READING,
        /** The weights are read; the batch loop starts and its KV cache is allocated. */
        STARTING,
        /** A few tokens are generated so the kernels are compiled before the first request. */
        WARMING,
        /** Ready: it serves, or waits as an extra. */
        LOADED,
        /** The load failed (the error is kept). */
        FAILED
    }

    /** One load as it is now. {@code finishedAt} and {@code error} are null until it ends (error: on failure). */
    public record Status(
            String model,
            String version,
            Phase phase,
            long bytesRead,
            long bytesTotal,
            Instant startedAt,
            Instant finishedAt,
            String error) {

        /** The fraction of the weights read, 0..1; 1 once past READING. */
        public double fractionRead() {
            if (phase != Phase.READING)
                return phase == Phase.FAILED && bytesTotal > 0 ? (double) bytesRead / bytesTotal : 1;
            return bytesTotal <= 0 ? 0 : Math.min(1, (double) bytesRead / bytesTotal);
        }
    }

    /** The handle of one load: the loader reports through it. Thread-safe (read by pollers while written). */
    public final class Load implements LoadProgress {
        private final String model;
        private final String version;
        private final Instant startedAt;
        private volatile Phase phase = Phase.READING;
        private volatile long bytesRead;
        private volatile long bytesTotal;
        private volatile Instant finishedAt;
        private volatile String error;

        private Load(String model, String version, Instant startedAt) {
            this.model = model;
            this.version = version;
            this.startedAt = startedAt;
        }

        @Override
        public void weightsRead(long read, long total) {
            bytesTotal = total;
            bytesRead = read;
        }

        public void phase(Phase next) {
            if (next == Phase.LOADED || next == Phase.FAILED)
                throw new IllegalArgumentException("use loaded() or failed()");
            phase = next;
        }

        public void loaded() {
            finish(Phase.LOADED, null);
        }

        public void failed(Throwable e) {
            String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            finish(Phase.FAILED, message.length() > 500 ? message.substring(0, 500) + "..." : message);
        }

        private void finish(Phase end, String why) {
            synchronized (ModelLoads.this) {
                if (finishedAt != null) return;
                error = why;
                phase = end;
                finishedAt = clock.instant();
                prune();
            }
        }

        Status status() {
            return new Status(model, version, phase, bytesRead, bytesTotal, startedAt, finishedAt, error);
        }
    }

    private final Clock clock;
    /** Every listed load, in the order started. Guarded by this. */
    private final List<Load> loads = new ArrayList<>();

    public ModelLoads() {
        this(Clock.systemUTC());
    }

    ModelLoads(Clock clock) {
        this.clock = clock;
    }

    /** Starts tracking a load of {@code model@version} (phase READING, nothing read yet). */
    public synchronized Load start(String model, String version) {
        Load load = new Load(model, version, clock.instant());
        loads.add(load);
        prune();
        return load;
    }

    /** The loads in progress and those finished within {@link #KEEP}, oldest started first. */
    public synchronized List<Status> statuses() {
        prune();
        return loads.stream().map(Load::status).toList();
    }

    private void prune() {
        Instant cutoff = clock.instant().minus(KEEP);
        loads.removeIf(l -> l.finishedAt != null && l.finishedAt.isBefore(cutoff));
        List<Load> finished = loads.stream()
                .filter(l -> l.finishedAt != null)
                .sorted(Comparator.comparing(l -> l.finishedAt))
                .toList();
        for (int i = 0; i < finished.size() - MAX_FINISHED; i++) loads.remove(finished.get(i));
    }
}
