package dev.anvil.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StickyAssignmentTest {

    private static final List<StickyAssignment.Arm> ARMS = List.of(
            new StickyAssignment.Arm("control", 50),
            new StickyAssignment.Arm("b", 30),
            new StickyAssignment.Arm("c", 20));

    @Test
    void sameKeyAlwaysGetsSameVariant() {
        for (int i = 0; i < 1000; i++) {
            String key = "user-" + i;
            StickyAssignment.Arm first = StickyAssignment.assign("exp", key, ARMS);
            for (int repeat = 0; repeat < 3; repeat++) assertEquals(first, StickyAssignment.assign("exp", key, ARMS));
        }
        // A known value pins the hash itself: a change of algorithm would silently reshuffle every running experiment.
        // Expected: first 8 bytes of SHA-256("exp\0user-42"), big-endian unsigned, mod 10000 (computed with Python
        // hashlib).
        assertEquals(5408, StickyAssignment.bucket("exp", "user-42"));
        assertNotEquals(StickyAssignment.bucket("exp-a", "user-42"), StickyAssignment.bucket("exp-b", "user-42"));
    }

    /**
     * 10,000 sequential keys (the worst case for a weak hash) against weights 50/30/20. Pearson's chi-square with
     * 2 degrees of freedom must stay below 13.816, its 0.999 quantile: a truly uniform hash fails this with
     * probability 0.1%, while a bias of even 2 points on one arm (200 of 10,000 keys) pushes the statistic to about 20.
     * The inputs are fixed, so the outcome is deterministic; the bound states how surprising a failure would be.
     */
    @Test
    void splitMatchesWeightsWithinChiSquareBound() {
        Map<String, Integer> counts = new HashMap<>();
        int n = 10_000;
        for (int i = 0; i < n; i++)
            counts.merge(
                    StickyAssignment.assign("checkout-flow", "user-" + i, ARMS).name(), 1, Integer::sum);
        double chiSquare = 0;
        for (StickyAssignment.Arm arm : ARMS) {
            double expected = n * arm.weightPercent() / 100.0;
            double observed = counts.getOrDefault(arm.name(), 0);
            chiSquare += (observed - expected) * (observed - expected) / expected;
        }
        assertTrue(chiSquare < 13.816, "chi-square " + chiSquare + " for counts " + counts);
    }

    @Test
    void smallWeightStillGetsItsShare() {
        // 1% arm over 10,000 keys: expected 100, binomial sd = sqrt(10000 * 0.01 * 0.99) = 9.95; allow 4 sd (p < 1e-4).
        List<StickyAssignment.Arm> arms =
                List.of(new StickyAssignment.Arm("control", 99), new StickyAssignment.Arm("canary", 1));
        int canary = 0;
        for (int i = 0; i < 10_000; i++)
            if (StickyAssignment.assign("canary-exp", "session-" + i, arms)
                    .name()
                    .equals("canary")) canary++;
        assertTrue(Math.abs(canary - 100) <= 40, "canary got " + canary);
    }

    @Test
    void bucketsMapToArmsByCumulativeWeight() {
        assertEquals("control", StickyAssignment.pick(ARMS, 0).name());
        assertEquals("control", StickyAssignment.pick(ARMS, 4999).name());
        assertEquals("b", StickyAssignment.pick(ARMS, 5000).name());
        assertEquals("b", StickyAssignment.pick(ARMS, 7999).name());
        assertEquals("c", StickyAssignment.pick(ARMS, 8000).name());
        assertEquals("c", StickyAssignment.pick(ARMS, 9999).name());
        List<StickyAssignment.Arm> zero = List.of(new StickyAssignment.Arm("a", 0), new StickyAssignment.Arm("b", 100));
        for (int b = 0; b < 10_000; b += 97)
            assertEquals("b", StickyAssignment.pick(zero, b).name());
        assertThrows(
                IllegalArgumentException.class,
                () -> StickyAssignment.pick(List.of(new StickyAssignment.Arm("a", 90)), 1));
        assertThrows(IllegalArgumentException.class, () -> StickyAssignment.pick(ARMS, 10_000));
        for (int i = 0; i < 1000; i++) {
            int bucket = StickyAssignment.bucket("e", "k" + i);
            assertTrue(bucket >= 0 && bucket < 10_000);
        }
        assertEquals(64, StickyAssignment.keyHash("user-1").length());
        // SHA-256("abc") from FIPS 180-2, appendix B.1.
        assertEquals(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", StickyAssignment.keyHash("abc"));
    }
}
