package dev.anvil.serving.series;

/**
 * One sample of a loaded model version: the rates of the interval that ends at {@code at} and the scheduler's state
 * at that moment. Rates are per second of the interval; error and overload rates are fractions of the requests that
 * arrived or ended in it (null when there were none), latencies in milliseconds (null when no request measured one).
 *
 * @param at                epoch milliseconds when the sample was taken
 * @param requestsPerSecond requests that finished (completed, cancelled or failed) per second
 * @param tokensPerSecond   tokens generated per second (all choices)
 * @param errorRate         failed / (finished + refused with 503)
 * @param overloadRate      refused with 503 / (finished + refused with 503)
 * @param queue             requests waiting for admission
 * @param batch             sequences in the running batch (0 for an embedding model)
 * @param kvUsed            KV cache blocks in use (0 for an embedding model)
 * @param kvFree            KV cache blocks free
 * @param breaker           the version's circuit breaker: CLOSED, OPEN or HALF_OPEN
 */
public record ServingSample(
        long at,
        double requestsPerSecond,
        double tokensPerSecond,
        Double ttftP50Ms,
        Double ttftP99Ms,
        Double tpotP50Ms,
        Double tpotP99Ms,
        Double errorRate,
        Double overloadRate,
        long queue,
        long batch,
        long kvUsed,
        long kvFree,
        String breaker) {

    /** The scheduler's state at sampling time. */
    public record Gauges(long queue, long batch, long kvUsed, long kvFree, String breaker) {}

    /** The sample of an interval of {@code seconds} that ended at {@code at}. */
    public static ServingSample of(long at, double seconds, IntervalTally.Summary s, Gauges g) {
        if (!(seconds > 0)) throw new IllegalArgumentException("interval must be > 0 s, got " + seconds);
        long finished = s.completed() + s.errors();
        long attempts = finished + s.overloaded();
        return new ServingSample(
                at,
                finished / seconds,
                s.generatedTokens() / seconds,
                orNull(s.ttftP50Ms()),
                orNull(s.ttftP99Ms()),
                orNull(s.tpotP50Ms()),
                orNull(s.tpotP99Ms()),
                attempts == 0 ? null : (double) s.errors() / attempts,
                attempts == 0 ? null : (double) s.overloaded() / attempts,
                g.queue(),
                g.batch(),
                g.kvUsed(),
                g.kvFree(),
                g.breaker());
    }

    private static Double orNull(double v) {
        return Double.isNaN(v) ? null : v;
    }
}
