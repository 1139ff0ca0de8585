package dev.anvil.resilience;

import java.util.function.LongSupplier;

/**
 * The circuit breaker of one model version (see {@link BreakerSettings} for the rules). A plain state machine:
 * MicroProfile Fault Tolerance's {@code @CircuitBreaker} keeps one state per annotated method, but Anvil needs one
 * per model version behind the same method, created as versions come and go; {@link CircuitBreakers} keeps one of
 * these per {@code name@version}. Thread-safe; the clock is injectable for tests.
 */
public final class VersionCircuitBreaker {

    public enum State {
        CLOSED(0),
        OPEN(1),
        HALF_OPEN(2);

        private final int code;

        State(int code) {
            this.code = code;
        }

        /** The gauge value: 0 closed, 1 open, 2 half-open. */
        public int code() {
            return code;
        }
    }

    /** What a request was allowed: to run normally, to run as a half-open trial, or not at all. */
    public enum Permit {
        CLOSED,
        TRIAL,
        DENIED;

        public boolean allowed() {
            return this != DENIED;
        }
    }

    private final BreakerSettings settings;
    private final LongSupplier clockMillis;
    /** Ring of the last outcomes while closed: true = failure. */
    private final boolean[] window;

    private int recorded;
    private int next;
    private int failures;
    private State state = State.CLOSED;
    private long openedAt;
    private int trialsRunning;
    private int trialSuccesses;
    private long opened;

    public VersionCircuitBreaker(BreakerSettings settings, LongSupplier clockMillis) {
        this.settings = settings;
        this.clockMillis = clockMillis;
        this.window = new boolean[settings.requestVolumeThreshold()];
    }

    /** Asks to send one request; every allowed permit must be followed by exactly one of the three outcome calls. */
    public synchronized Permit acquire() {
        if (state == State.OPEN && clockMillis.getAsLong() - openedAt >= settings.delayMillis()) {
            state = State.HALF_OPEN;
            trialsRunning = 0;
            trialSuccesses = 0;
        }
        return switch (state) {
            case CLOSED -> Permit.CLOSED;
            case OPEN -> Permit.DENIED;
            case HALF_OPEN -> {
                if (trialsRunning + trialSuccesses >= settings.successThreshold()) yield Permit.DENIED;
                trialsRunning++;
                yield Permit.TRIAL;
            }
        };
    }

    public synchronized void success(Permit permit) {
        if (permit == Permit.TRIAL) {
            if (state != State.HALF_OPEN) return;
            trialsRunning--;
            if (++trialSuccesses >= settings.successThreshold()) close();
        } else if (permit == Permit.CLOSED && state == State.CLOSED) {
            record(false);
            openIfTooManyFailures();
        }
    }

    public synchronized void failure(Permit permit) {
        if (permit == Permit.TRIAL) {
            if (state == State.HALF_OPEN) open();
        } else if (permit == Permit.CLOSED && state == State.CLOSED) {
            record(true);
            openIfTooManyFailures();
        }
    }

    /** The request ended in a way that says nothing about the model (a client error, a cancellation). */
    public synchronized void ignored(Permit permit) {
        if (permit == Permit.TRIAL && state == State.HALF_OPEN) trialsRunning--;
    }

    public synchronized State state() {
        // Report OPEN as half-open once the delay is over, as the next acquire will.
        if (state == State.OPEN && clockMillis.getAsLong() - openedAt >= settings.delayMillis()) return State.HALF_OPEN;
        return state;
    }

    /** Milliseconds until an open breaker lets a trial request through (0 unless open). */
    public synchronized long millisUntilTrial() {
        if (state != State.OPEN) return 0;
        return Math.max(0, openedAt + settings.delayMillis() - clockMillis.getAsLong());
    }

    /** How many times the breaker opened. */
    public synchronized long timesOpened() {
        return opened;
    }

    private void record(boolean failed) {
        if (recorded == window.length) {
            if (window[next]) failures--;
        } else {
            recorded++;
        }
        window[next] = failed;
        if (failed) failures++;
        next = (next + 1) % window.length;
    }

    /** Evaluated after every outcome, like Fault Tolerance's breaker: a full window at or over the ratio opens. */
    private void openIfTooManyFailures() {
        if (recorded >= window.length && failures >= settings.failureRatio() * window.length) open();
    }

    private void open() {
        state = State.OPEN;
        openedAt = clockMillis.getAsLong();
        opened++;
    }

    private void close() {
        state = State.CLOSED;
        recorded = 0;
        next = 0;
        failures = 0;
    }
}
