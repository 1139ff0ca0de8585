package dev.anvil.serving.series;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class SampleRingTest {

    @Test
    void keepsTheNewestCapacitySamplesOldestFirst() {
        SampleRing<Long> ring = new SampleRing<>(3, t -> t);
        assertNull(ring.latest());
        assertEquals(List.of(), ring.all());
        ring.add(10L);
        ring.add(20L);
        assertEquals(List.of(10L, 20L), ring.all());
        ring.add(30L);
        ring.add(40L);
        ring.add(50L);
        assertEquals(List.of(30L, 40L, 50L), ring.all());
        assertEquals(3, ring.size());
        assertEquals(50L, ring.latest());
    }

    @Test
    void sinceReturnsOnlyStrictlyNewerSamples() {
        SampleRing<Long> ring = new SampleRing<>(4, t -> t);
        for (long t = 1; t <= 6; t++) ring.add(t * 100);
        assertEquals(List.of(300L, 400L, 500L, 600L), ring.since(0));
        assertEquals(List.of(500L, 600L), ring.since(400));
        assertEquals(List.of(), ring.since(600));
    }

    @Test
    void capacityOneAlwaysHoldsTheLatest() {
        SampleRing<Long> ring = new SampleRing<>(1, t -> t);
        ring.add(1L);
        ring.add(2L);
        assertEquals(List.of(2L), ring.all());
        assertThrows(IllegalArgumentException.class, () -> new SampleRing<Long>(0, t -> t));
    }
}
