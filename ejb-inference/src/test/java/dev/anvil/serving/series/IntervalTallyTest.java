package dev.anvil.serving.series;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class IntervalTallyTest {

    @Test
    void countsOutcomesAndTokensAndStartsEmptyAfterDrain() {
        IntervalTally tally = new IntervalTally(16, 1);
        tally.prompt(7);
        tally.completed(5);
        tally.completed(3);
        tally.failed(1);
        tally.overloaded();
        tally.refused();
        IntervalTally.Summary s = tally.drain();
        assertEquals(2, s.completed());
        assertEquals(1, s.errors());
        assertEquals(1, s.overloaded());
        assertEquals(1, s.refused());
        assertEquals(7, s.promptTokens());
        assertEquals(9, s.generatedTokens());
        assertTrue(Double.isNaN(s.ttftP50Ms()));

        IntervalTally.Summary next = tally.drain();
        assertEquals(0, next.completed() + next.errors() + next.generatedTokens());
    }

    @Test
    void percentilesAreNearestRankInMilliseconds() {
        IntervalTally tally = new IntervalTally(1000, 1);
        for (int ms = 1; ms <= 100; ms++) tally.timeToFirstToken(ms * 1_000_000L);
        tally.timePerOutputToken(4_000_000L);
        IntervalTally.Summary s = tally.drain();
        assertEquals(50.0, s.ttftP50Ms());
        assertEquals(99.0, s.ttftP99Ms());
        assertEquals(4.0, s.tpotP50Ms());
        assertEquals(4.0, s.tpotP99Ms());
    }

    @Test
    void aBurstBeyondTheReservoirStaysBoundedAndUnbiased() {
        IntervalTally tally = new IntervalTally(256, 42);
        // 100 000 values uniform over 1..1000 ms: a fair sample has its median near 500 ms.
        for (int i = 0; i < 100_000; i++) tally.timeToFirstToken((1 + i % 1000) * 1_000_000L);
        IntervalTally.Summary s = tally.drain();
        assertTrue(s.ttftP50Ms() > 400 && s.ttftP50Ms() < 600, "median " + s.ttftP50Ms());
        assertTrue(s.ttftP99Ms() > 950, "p99 " + s.ttftP99Ms());
        assertTrue(Double.isNaN(tally.drain().ttftP50Ms()), "the reservoir is cleared by a drain");
    }

    @Test
    void sampleTurnsCountsIntoRatesAndFractions() {
        IntervalTally tally = new IntervalTally(16, 1);
        for (int i = 0; i < 6; i++) tally.completed(10);
        tally.failed(0);
        tally.overloaded();
        tally.overloaded();
        tally.overloaded();
        tally.timeToFirstToken(2_000_000L);
        ServingSample sample =
                ServingSample.of(1234L, 2.0, tally.drain(), new ServingSample.Gauges(4, 3, 12, 500, "CLOSED"));
        assertEquals(1234L, sample.at());
        assertEquals(3.5, sample.requestsPerSecond()); // 7 finished in 2 s
        assertEquals(30.0, sample.tokensPerSecond());
        assertEquals(0.1, sample.errorRate(), 1e-12); // 1 of 10 attempts
        assertEquals(0.3, sample.overloadRate(), 1e-12);
        assertEquals(2.0, sample.ttftP50Ms());
        assertNull(sample.tpotP50Ms());
        assertEquals(4, sample.queue());
        assertEquals(12, sample.kvUsed());

        ServingSample idle = ServingSample.of(1L, 2.0, tally.drain(), new ServingSample.Gauges(0, 0, 0, 512, "OPEN"));
        assertNull(idle.errorRate(), "no requests: no rate rather than 0 %");
        assertEquals("OPEN", idle.breaker());
    }
}
