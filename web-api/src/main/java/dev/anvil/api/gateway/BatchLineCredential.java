package dev.anvil.api.gateway;

import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * The credential a batch job's line presents when it runs through this server's own {@code /v1} endpoint: 256 random
 * bits made at deployment, held only in memory, never logged or stored. With it, {@link ApiKeyFilter} admits the line
 * as the API key that created its batch (header {@link #BATCH_HEADER} names the batch) at LOW priority; without it
 * the headers are refused (401), so no client can act as a batch.
 */
@ApplicationScoped
public class BatchLineCredential {

    /** Header carrying {@link #token()}. */
    public static final String TOKEN_HEADER = "X-Anvil-Batch-Line";
    /** Header naming the batch whose line this request is. */
    public static final String BATCH_HEADER = "X-Anvil-Batch-Id";

    private final String token;

    public BatchLineCredential() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        token = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    public String token() {
        return token;
    }

    boolean matches(String presented) {
        return presented != null
                && MessageDigest.isEqual(
                        presented.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8));
    }
}
