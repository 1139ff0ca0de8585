package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CacheServerTimingFilterTest {

    private static String millis(long nanos) {
        StringBuilder b = new StringBuilder();
        CacheServerTimingFilter.millis(b, nanos);
        return b.toString();
    }

    @Test
    void durationsAreMillisecondsWithThreeDecimalsRoundedToTheMicrosecond() {
        assertEquals("0.000", millis(0));
        assertEquals("0.000", millis(499));
        assertEquals("0.001", millis(500));
        assertEquals("0.057", millis(57_200));
        assertEquals("0.412", millis(411_600));
        assertEquals("1.000", millis(999_999));
        assertEquals("12.345", millis(12_345_000));
        assertEquals("0.000", millis(-5_000), "a clock step backwards is not a negative duration");
    }
}
