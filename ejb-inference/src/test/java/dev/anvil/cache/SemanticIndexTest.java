package dev.anvil.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class SemanticIndexTest {

    private static final SemanticIndex.Group ACME = new SemanticIndex.Group("acme", "m@1.0.0", "p1");

    private static float[] v(float... x) {
        return SemanticIndex.unit(x);
    }

    @Test
    void theNearestEntryAboveTheThresholdAnswersAndNothingBelowIt() {
        SemanticIndex index = new SemanticIndex(100);
        index.add(ACME, "k-dog", v(1, 0.1f, 0));
        index.add(ACME, "k-cat", v(0, 1, 0.1f));
        SemanticIndex.Match m = index.nearest(ACME, v(1, 0.12f, 0), 0.95);
        assertNotNull(m);
        assertEquals("k-dog", m.exactKey());
        assertEquals(0.9998, m.similarity(), 1e-3);
        assertNull(index.nearest(ACME, v(1, 1, 0), 0.95), "cos 0.78 to both: no hit at 0.95");
        assertNotNull(index.nearest(ACME, v(1, 1, 0), 0.7), "a lower bar lets it through");
        assertNull(index.nearest(ACME, v(0, 0, 0), 0.5), "a zero vector matches nothing");
    }

    @Test
    void vectorsAreComparedOnlyWithinTheirGroup() {
        SemanticIndex index = new SemanticIndex(100);
        index.add(ACME, "k", v(1, 0, 0));
        assertNull(index.nearest(new SemanticIndex.Group("globex", "m@1.0.0", "p1"), v(1, 0, 0), 0.5), "tenant");
        assertNull(index.nearest(new SemanticIndex.Group("acme", "m@1.0.1", "p1"), v(1, 0, 0), 0.5), "version");
        assertNull(index.nearest(new SemanticIndex.Group("acme", "m@1.0.0", "p2"), v(1, 0, 0), 0.5), "parameters");
        assertNull(index.nearest(ACME, v(1, 0), 0.5), "another embedding width");
        assertNotNull(index.nearest(ACME, v(1, 0, 0), 0.5));
    }

    @Test
    void theBoundForgetsTheLeastRecentlyUsedAndInvalidationForgetsAVersion() {
        SemanticIndex index = new SemanticIndex(2);
        index.add(ACME, "a", v(1, 0, 0));
        index.add(ACME, "b", v(0, 1, 0));
        assertNotNull(index.nearest(ACME, v(1, 0, 0), 0.99)); // a is used: b is now the eldest
        index.add(ACME, "c", v(0, 0, 1));
        assertEquals(2, index.size());
        assertNull(index.nearest(ACME, v(0, 1, 0), 0.99), "b was forgotten");
        assertEquals("a", index.nearest(ACME, v(1, 0, 0), 0.99).exactKey());

        SemanticIndex.Group other = new SemanticIndex.Group("acme", "m@2.0.0", "p1");
        index.add(other, "d", v(1, 0, 0));
        assertEquals(2, index.size(), "still bounded: c, the least recently used, went");
        assertNull(index.nearest(ACME, v(0, 0, 1), 0.99));
        assertEquals(1, index.invalidate("m@2.0.0"));
        assertNull(index.nearest(other, v(1, 0, 0), 0.5));
        assertEquals(1, index.size(), "only that version's vectors");
        index.remove("a");
        assertEquals(0, index.size());
        assertNull(index.nearest(ACME, v(1, 0, 0), 0.5), "a was removed");
    }
}
