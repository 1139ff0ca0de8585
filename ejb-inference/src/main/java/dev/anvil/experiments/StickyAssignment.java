package dev.anvil.experiments;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * Deterministic, sticky traffic splitting: a subject key (user id, session id) hashes, together with the
 * experiment's name, to a bucket in [0, 10000); consecutive ranges of buckets belong to the variants in proportion
 * to their weights. The same key always lands in the same bucket, and different experiments hash independently
 * (the name is part of the input), so a user's variant in one experiment says nothing about another.
 *
 * <p>SHA-256 rather than {@code String.hashCode}: hashCode of similar keys ("user-1", "user-2") differs only in
 * its low bits, which would put sequential ids into neighbouring buckets and skew the split.
 */
public final class StickyAssignment {

    public static final int BUCKETS = 10_000;

    private StickyAssignment() {}

    /** The variant's share: its name and weight in percent. */
    public record Arm(String name, int weightPercent) {}

    /** Bucket of {@code key} in {@code experiment}, in [0, 10000). */
    public static int bucket(String experiment, String key) {
        byte[] digest = sha256(experiment + '\u0000' + key);
        long high = 0;
        for (int i = 0; i < 8; i++) high = (high << 8) | (digest[i] & 0xFF);
        // 64 uniform bits reduced modulo 10^4: the bias of the modulo is below 10^4 / 2^64, about 5e-16.
        return (int) Long.remainderUnsigned(high, BUCKETS);
    }

    /**
     * The arm owning {@code bucket}: arm i owns buckets [100 * (w0 + ... + w_{i-1}), 100 * (w0 + ... + w_i)).
     * Weights must sum to 100.
     */
    public static Arm pick(List<Arm> arms, int bucket) {
        if (bucket < 0 || bucket >= BUCKETS)
            throw new IllegalArgumentException("bucket " + bucket + " outside [0, " + BUCKETS + ")");
        int total = arms.stream().mapToInt(Arm::weightPercent).sum();
        if (total != 100) throw new IllegalArgumentException("weights must sum to 100, got " + total);
        int upper = 0;
        for (Arm arm : arms) {
            upper += arm.weightPercent() * (BUCKETS / 100);
            if (bucket < upper) return arm;
        }
        throw new IllegalStateException("unreachable: weights sum to 100");
    }

    public static Arm assign(String experiment, String key, List<Arm> arms) {
        return pick(arms, bucket(experiment, key));
    }

    /** SHA-256 of the key as lowercase hex: what is stored instead of the raw key. */
    public static String keyHash(String key) {
        return HexFormat.of().formatHex(sha256(key));
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform provides SHA-256", e);
        }
    }
}
