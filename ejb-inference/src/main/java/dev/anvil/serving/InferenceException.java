package dev.anvil.serving;

import jakarta.ejb.ApplicationException;

/**
 * An inference request that cannot be served, with the {@link Kind} the HTTP layer maps to a status code.
 * An application exception: callers of the EJB receive it as thrown, never wrapped in an EJBException.
 */
@ApplicationException(rollback = false)
public class InferenceException extends RuntimeException {

    public enum Kind {
        /** Unknown model or model version (HTTP 404). */
        NOT_FOUND,
        /** Bad request parameters: empty prompt, token id outside the vocabulary, n or max tokens out of range (HTTP 400). */
        INVALID,
        /** Prompt, or prompt plus max tokens, exceeds the model's context length (HTTP 400). */
        CONTEXT_LENGTH,
        /** The model's waiting queue is full; retry after {@link #retryAfterSeconds()} (HTTP 503 / 429). */
        OVERLOADED,
        /** The model is registered but not loaded (yet), or the server is shutting down (HTTP 503). */
        UNAVAILABLE
    }

    private final Kind kind;
    private final String param;
    private final int retryAfterSeconds;
    /** A code more specific than the kind's, or null. */
    private final String code;

    public InferenceException(Kind kind, String message, String param, int retryAfterSeconds) {
        this(kind, message, param, retryAfterSeconds, null);
    }

    private InferenceException(Kind kind, String message, String param, int retryAfterSeconds, String code) {
        super(message);
        this.kind = kind;
        this.param = param;
        this.retryAfterSeconds = retryAfterSeconds;
        this.code = code;
    }

    /**
     * INVALID, code {@code model_not_supported}: the model exists but does not do what the endpoint asks (an
     * embedding model asked to generate, a generation model asked for embeddings).
     */
    public static InferenceException unsupportedByModel(String message) {
        return new InferenceException(Kind.INVALID, message, "model", 0, "model_not_supported");
    }

    public static InferenceException notFound(String message, String param) {
        return new InferenceException(Kind.NOT_FOUND, message, param, 0);
    }

    public static InferenceException invalid(String message, String param) {
        return new InferenceException(Kind.INVALID, message, param, 0);
    }

    public static InferenceException contextLength(String message, String param) {
        return new InferenceException(Kind.CONTEXT_LENGTH, message, param, 0);
    }

    public static InferenceException overloaded(String message, int retryAfterSeconds) {
        return new InferenceException(Kind.OVERLOADED, message, null, retryAfterSeconds);
    }

    public static InferenceException unavailable(String message, int retryAfterSeconds) {
        return new InferenceException(Kind.UNAVAILABLE, message, null, retryAfterSeconds);
    }

    public Kind kind() {
        return kind;
    }

    /** The request field at fault ("model", "messages", "max_tokens", "n", ...), or null. */
    public String param() {
        return param;
    }

    /** For OVERLOADED/UNAVAILABLE: seconds after which a retry is likely to succeed (Retry-After); else 0. */
    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }

    /** A stable machine-readable code, e.g. {@code model_not_found}, {@code context_length_exceeded}. */
    public String code() {
        if (code != null) return code;
        return switch (kind) {
            case NOT_FOUND -> "model_not_found";
            case INVALID -> "invalid_value";
            case CONTEXT_LENGTH -> "context_length_exceeded";
            case OVERLOADED -> "server_overloaded";
            case UNAVAILABLE -> "model_unavailable";
        };
    }
}
