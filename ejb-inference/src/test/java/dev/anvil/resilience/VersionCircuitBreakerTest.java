package dev.anvil.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.anvil.resilience.VersionCircuitBreaker.Permit;
import dev.anvil.resilience.VersionCircuitBreaker.State;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class VersionCircuitBreakerTest {

    private final AtomicLong now = new AtomicLong(1_000);
    private final VersionCircuitBreaker breaker =
            new VersionCircuitBreaker(new BreakerSettings(4, 0.5, 5_000, 2), now::get);

    private void outcome(boolean failed) {
        Permit p = breaker.acquire();
        assertEquals(true, p.allowed());
        if (failed) breaker.failure(p);
        else breaker.success(p);
    }

    @Test
    void staysClosedUntilTheWindowIsFullAndTheRatioReached() {
        outcome(true);
        outcome(true);
        outcome(true);
        assertEquals(State.CLOSED, breaker.state(), "3 outcomes < request volume threshold 4");
        outcome(false);
        assertEquals(State.OPEN, breaker.state(), "3 failures of the last 4 >= 0.5");
        assertEquals(Permit.DENIED, breaker.acquire());
        assertEquals(1, breaker.timesOpened());
    }

    @Test
    void aRollingWindowForgetsOldFailures() {
        outcome(true);
        outcome(false);
        outcome(false);
        outcome(false); // 1 of 4
        outcome(true); // window: F? no - oldest (F) dropped: S S S F = 1 of 4
        assertEquals(State.CLOSED, breaker.state());
        outcome(true); // S S F F = 2 of 4 -> opens
        assertEquals(State.OPEN, breaker.state());
    }

    @Test
    void halfOpenAfterTheDelayThenClosesAfterEnoughTrialSuccesses() {
        for (int i = 0; i < 4; i++) outcome(true);
        assertEquals(State.OPEN, breaker.state());
        now.addAndGet(4_999);
        assertEquals(Permit.DENIED, breaker.acquire());
        assertEquals(1, breaker.millisUntilTrial());
        now.addAndGet(1);
        assertEquals(State.HALF_OPEN, breaker.state());
        Permit t1 = breaker.acquire();
        Permit t2 = breaker.acquire();
        assertEquals(Permit.TRIAL, t1);
        assertEquals(Permit.TRIAL, t2);
        assertEquals(Permit.DENIED, breaker.acquire(), "only success-threshold trials at a time");
        breaker.success(t1);
        assertEquals(State.HALF_OPEN, breaker.state());
        breaker.success(t2);
        assertEquals(State.CLOSED, breaker.state());
        outcome(true);
        outcome(true);
        outcome(true);
        assertEquals(State.CLOSED, breaker.state(), "the window starts empty after closing");
    }

    @Test
    void aFailedTrialOpensAgainAndIgnoredTrialsGiveTheirPermitBack() {
        for (int i = 0; i < 4; i++) outcome(true);
        now.addAndGet(5_000);
        Permit t1 = breaker.acquire();
        Permit t2 = breaker.acquire();
        breaker.ignored(t1);
        Permit t3 = breaker.acquire();
        assertEquals(Permit.TRIAL, t3, "the ignored trial's permit is free again");
        breaker.failure(t2);
        assertEquals(State.OPEN, breaker.state());
        assertEquals(2, breaker.timesOpened());
        breaker.success(t3); // a late trial outcome after reopening changes nothing
        assertEquals(State.OPEN, breaker.state());
        assertEquals(5_000, breaker.millisUntilTrial());
    }

    @Test
    void clientErrorsDoNotCount() {
        for (int i = 0; i < 10; i++) {
            Permit p = breaker.acquire();
            breaker.ignored(p);
        }
        outcome(true);
        assertEquals(State.CLOSED, breaker.state());
    }
}
