package dev.anvil.cache;

import dev.anvil.engine.SamplingParams;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Decides whether a request may be answered from the cache and derives its key: SHA-256 over a canonical,
 * length-prefixed encoding of a {@link CacheableRequest}, its scope (the caller's tenant) first, so that the
 * same request of two tenants has two keys.
 *
 * <p>Only deterministic requests are cacheable: those the sampler answers by argmax (temperature 0, or
 * {@code top_k} 1) and those with a client-given seed (the sampler's random stream is seeded from it, and results
 * do not depend on what else is batched). A request with a random seed would not repeat, so it is never cached.
 *
 * <p>Canonical form, so that requests with the same output share a key: for argmax requests the seed and the
 * parameters that only shape the random draw (temperature, top_k, top_p, min_p) are left out, since the sampler
 * takes the most likely token after penalties and reports log-probabilities of the unfiltered distribution. The
 * penalties always count. Floats are hashed by their bits with -0 folded into 0.
 */
public final class ResponseCacheKeys {

    /** Bumped when the encoding or the meaning of a cached value changes, so old entries can never match. */
    static final String FORMAT = "anvil-response-cache/2";

    private ResponseCacheKeys() {}

    /** Why a request is or is not cacheable. */
    public sealed interface Derivation {
        /** A cacheable request and its digest (64 hex characters). */
        record Cacheable(String digest) implements Derivation {}

        /** A request whose output is not repeatable. */
        record NotCacheable(String reason) implements Derivation {}
    }

    /** The reason label of a request whose sampling is random (also a metrics tag value). */
    public static final String NOT_DETERMINISTIC = "not_deterministic";

    public static boolean argmax(SamplingParams s) {
        return s.greedy() || s.topK() == 1;
    }

    public static Derivation derive(CacheableRequest r) {
        SamplingParams s = r.sampling();
        boolean argmax = argmax(s);
        if (!argmax && !r.seedGiven()) {
            return new Derivation.NotCacheable(NOT_DETERMINISTIC);
        }
        Encoder e = new Encoder();
        e.string(FORMAT);
        e.string(r.scope());
        e.string(r.model());
        e.string(r.version());
        e.integer(r.prompts().size());
        for (int[] prompt : r.prompts()) {
            e.integer(prompt.length);
            for (int id : prompt) e.integer(id);
        }
        if (argmax) {
            e.string("argmax");
        } else {
            e.string("sampled");
            e.longValue(s.seed());
            e.floatValue(s.temperature());
            e.integer(s.topK());
            e.floatValue(s.topP());
            e.floatValue(s.minP());
        }
        e.floatValue(s.repetitionPenalty());
        e.floatValue(s.frequencyPenalty());
        e.floatValue(s.presencePenalty());
        e.integer(s.penaltyLastN());
        e.integer(r.maxTokens() == null ? -1 : r.maxTokens());
        e.integer(r.stop().size());
        for (String stop : r.stop()) e.string(stop);
        e.integer(r.n());
        e.integer(r.logprobs() == null ? -1 : r.logprobs());
        // A constrained generation differs from the free one of the same prompt; an unconstrained key is unchanged.
        if (r.grammar() != null) e.string(r.grammar());
        return new Derivation.Cacheable(HexFormat.of().formatHex(e.digest.digest()));
    }

    /** Feeds fixed-width or length-prefixed values into the digest, so no two field sequences encode alike. */
    private static final class Encoder {
        final MessageDigest digest;
        private final byte[] buffer = new byte[8];

        Encoder() {
            try {
                digest = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is required of every Java platform", e);
            }
        }

        void integer(int v) {
            buffer[0] = (byte) (v >>> 24);
            buffer[1] = (byte) (v >>> 16);
            buffer[2] = (byte) (v >>> 8);
            buffer[3] = (byte) v;
            digest.update(buffer, 0, 4);
        }

        void longValue(long v) {
            integer((int) (v >>> 32));
            integer((int) v);
        }

        void floatValue(float v) {
            integer(Float.floatToIntBits(v == 0f ? 0f : v));
        }

        void string(String s) {
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
            integer(bytes.length);
            digest.update(bytes);
        }
    }
}
