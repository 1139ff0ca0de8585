package dev.anvil.api.openai;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * MicroProfile Config keys of the OpenAI-compatible API (system property, server config directory or
 * environment variable, e.g. {@code ANVIL_API_MAX_BODY_BYTES}).
 */
@ApplicationScoped
public class OpenAiConfig {

    /** {@code anvil.api.max-body-bytes}: request bodies larger than this get 413 before any parsing. */
    public static final String MAX_BODY_BYTES = "anvil.api.max-body-bytes";
    /** {@code anvil.api.request-timeout-seconds}: a request that has not finished by then is cancelled. */
    public static final String REQUEST_TIMEOUT_SECONDS = "anvil.api.request-timeout-seconds";

    @Inject
    @ConfigProperty(name = MAX_BODY_BYTES, defaultValue = "4194304")
    long maxBodyBytes;

    @Inject
    @ConfigProperty(name = REQUEST_TIMEOUT_SECONDS, defaultValue = "600")
    long requestTimeoutSeconds;

    public long maxBodyBytes() {
        if (maxBodyBytes < 1) {
            throw new IllegalStateException(MAX_BODY_BYTES + " must be >= 1, got " + maxBodyBytes);
        }
        return maxBodyBytes;
    }

    public long requestTimeoutSeconds() {
        if (requestTimeoutSeconds < 1) {
            throw new IllegalStateException(REQUEST_TIMEOUT_SECONDS + " must be >= 1, got " + requestTimeoutSeconds);
        }
        return requestTimeoutSeconds;
    }
}
