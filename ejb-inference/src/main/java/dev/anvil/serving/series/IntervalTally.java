package dev.anvil.serving.series;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * What one model version did since the last sample: requests by outcome, tokens, and the times to first token and
 * per output token of the requests that ended in it. Request threads and the batching thread record into it; the
 * sampler {@link #drain}s it once per interval. Latencies are kept in a bounded reservoir (uniform sampling beyond
 * {@code reservoir} values, Vitter's algorithm R), so a burst of thousands of requests costs a fixed amount of memory
 * and the percentiles stay unbiased estimates.
 */
public final class IntervalTally {

    /** The counts and latency percentiles of one interval (milliseconds; NaN where no request measured one). */
    public record Summary(
            long completed,
            long errors,
            long overloaded,
            long refused,
            long promptTokens,
            long generatedTokens,
            double ttftP50Ms,
            double ttftP99Ms,
            double tpotP50Ms,
            double tpotP99Ms) {}

    private final int reservoir;
    private final SplittableRandom random;

    private long completed;
    private long errors;
    private long overloaded;
    private long refused;
    private long promptTokens;
    private long generatedTokens;
    private final Reservoir ttft;
    private final Reservoir tpot;

    public IntervalTally(int reservoir, long seed) {
        if (reservoir < 1) throw new IllegalArgumentException("reservoir must be >= 1, got " + reservoir);
        this.reservoir = reservoir;
        this.random = new SplittableRandom(seed);
        this.ttft = new Reservoir();
        this.tpot = new Reservoir();
    }

    /** A request that finished (stopped, hit its length or was cancelled by its client). */
    public synchronized void completed(long generated) {
        completed++;
        generatedTokens += generated;
    }

    /** A request that failed inside the engine (a server error). */
    public synchronized void failed(long generated) {
        errors++;
        generatedTokens += generated;
    }

    /** A request refused with 503: the queue was full, or the version was not available. */
    public synchronized void overloaded() {
        overloaded++;
    }

    /** A request refused for its own fault (400: invalid parameters, too long for the context). */
    public synchronized void refused() {
        refused++;
    }

    public synchronized void prompt(long tokens) {
        promptTokens += tokens;
    }

    public synchronized void timeToFirstToken(long nanos) {
        ttft.offer(nanos);
    }

    public synchronized void timePerOutputToken(long nanos) {
        tpot.offer(nanos);
    }

    /** This interval's summary; the tally starts the next interval empty. */
    public synchronized Summary drain() {
        Summary s = new Summary(
                completed,
                errors,
                overloaded,
                refused,
                promptTokens,
                generatedTokens,
                ttft.quantileMs(0.50),
                ttft.quantileMs(0.99),
                tpot.quantileMs(0.50),
                tpot.quantileMs(0.99));
        completed = errors = overloaded = refused = promptTokens = generatedTokens = 0;
        ttft.clear();
        tpot.clear();
        return s;
    }

    /** A uniform sample of at most {@code reservoir} values out of {@code seen}. Guarded by the tally. */
    private final class Reservoir {
        private final long[] values = new long[reservoir];
        private long seen;

        void offer(long value) {
            if (seen < values.length) {
                values[(int) seen] = value;
            } else {
                long slot = random.nextLong(seen + 1); // keeps each of the seen+1 values with equal probability
                if (slot < values.length) values[(int) slot] = value;
            }
            seen++;
        }

        /** Nearest-rank quantile in milliseconds, NaN when empty. */
        double quantileMs(double q) {
            int n = (int) Math.min(seen, values.length);
            if (n == 0) return Double.NaN;
            long[] sorted = Arrays.copyOf(values, n);
            Arrays.sort(sorted);
            int rank = (int) Math.ceil(q * n); // 1-based
            return sorted[Math.max(0, rank - 1)] / 1e6;
        }

        void clear() {
            seen = 0;
        }
    }
}
