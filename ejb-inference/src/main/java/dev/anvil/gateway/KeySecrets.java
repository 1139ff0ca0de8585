package dev.anvil.gateway;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * API key secrets: {@value #PREFIX} + 32 random bytes (base64url), so a leaked key is recognisable; only
 * the SHA-256 is stored. A fast hash is enough here: the secret has 256 bits of entropy, so it cannot be
 * guessed from its hash, and authentication must stay cheap on every request.
 */
public final class KeySecrets {

    public static final String PREFIX = "anv-";
    /** Characters of the secret kept in clear as the key's visible prefix. */
    static final int VISIBLE = 12;

    private static final SecureRandom RANDOM = new SecureRandom();

    private KeySecrets() {}

    public static String generate() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    public static String visiblePrefix(String secret) {
        return secret.substring(0, Math.min(VISIBLE, secret.length()));
    }

    public static String sha256(String secret) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(digest.digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
