package dev.anvil.resilience;

import dev.anvil.serving.InferenceException;

/**
 * A submission refused before anything was queued (overloaded, unavailable): safe to retry, since no token was
 * produced and nothing was sent. The only exception {@link SubmissionAttempts} retries on.
 */
public class RetryableRejection extends RuntimeException {

    public RetryableRejection(InferenceException cause) {
        super(cause.getMessage(), cause);
    }

    public InferenceException rejection() {
        return (InferenceException) getCause();
    }
}
