package dev.anvil.routing;

import dev.anvil.experiments.LiveExperiment;
import dev.anvil.experiments.StickyAssignment;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Which variant of a routable experiment serves one request, by strategy (pure; the router adds the recorded
 * assignments and the shadow copies):
 * <ul>
 *   <li>AB and CANARY: the variant owning the caller's key's hash bucket under the current weights (sticky: a key
 *       always lands in the same bucket; as a canary grows its range only widens, so a user on the candidate stays
 *       there); a request without a key draws a bucket at random.</li>
 *   <li>BANDIT: a weighted random draw per request over the current Thompson-sampling weights (each at least the
 *       floor), so the allocation follows the outcomes as the controller rebalances.</li>
 *   <li>SHADOW, and any PAUSED experiment: the control.</li>
 * </ul>
 */
public final class VariantPicker {

    private VariantPicker() {}

    public static LiveExperiment.Variant pick(LiveExperiment e, String key, RandomGenerator random) {
        if (!e.running() || "SHADOW".equals(e.strategy())) return e.control();
        int bucket;
        if ("BANDIT".equals(e.strategy()) || key == null) {
            bucket = random.nextInt(StickyAssignment.BUCKETS);
        } else {
            bucket = StickyAssignment.bucket(e.name(), key);
        }
        return byBucket(e, bucket);
    }

    static LiveExperiment.Variant byBucket(LiveExperiment e, int bucket) {
        List<StickyAssignment.Arm> arms = e.variants().stream()
                .map(v -> new StickyAssignment.Arm(v.name(), v.weightPercent()))
                .toList();
        return e.variant(StickyAssignment.pick(arms, bucket).name());
    }
}
