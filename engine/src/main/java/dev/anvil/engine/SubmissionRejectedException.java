package dev.anvil.engine;

/** The {@link Scheduler} refused a sequence at submission; nothing was queued. */
public class SubmissionRejectedException extends RuntimeException {

    public enum Reason {
        /** Prompt, or prompt plus max tokens, exceeds the model's context length. */
        CONTEXT_LENGTH,
        /** The request can never run: bad token id, or it needs more KV cache than the whole pool holds. */
        INVALID,
        /** The waiting queue is full; retry after {@link #retryAfterSeconds()}. */
        OVERLOADED,
        /** The scheduler is closed. */
        CLOSED
    }

    private final Reason reason;
    private final int retryAfterSeconds;

    public SubmissionRejectedException(Reason reason, String message, int retryAfterSeconds) {
        super(message);
        this.reason = reason;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public Reason reason() {
        return reason;
    }

    /** For OVERLOADED: a hint in seconds for a Retry-After header; else 0. */
    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
