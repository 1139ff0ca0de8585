package dev.anvil.resilience;

import dev.anvil.serving.GenerationHandle;
import dev.anvil.serving.InferenceException;
import dev.anvil.serving.InferenceRequest;
import dev.anvil.serving.InferenceService;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.temporal.ChronoUnit;
import org.eclipse.microprofile.faulttolerance.Retry;
import org.eclipse.microprofile.faulttolerance.Timeout;

/**
 * Queues one request with MicroProfile Fault Tolerance around it: a timeout on the submission (which can wait for a
 * version to load) and retries only on rejections before anything was queued ({@link RetryableRejection}), the one
 * place a retry cannot duplicate output. Client errors (invalid, context length, not found) are never retried.
 * Tunable with Fault Tolerance's keys, e.g. {@code dev.anvil.resilience.SubmissionAttempts/submit/Retry/maxRetries}.
 */
@ApplicationScoped
public class SubmissionAttempts {

    @EJB
    InferenceService inference;

    @Retry(maxRetries = 2, delay = 100, jitter = 50, retryOn = RetryableRejection.class)
    @Timeout(value = 40_000, unit = ChronoUnit.MILLIS) // in ms, so that the Timeout/value key is in ms too
    public GenerationHandle submit(InferenceRequest request) {
        try {
            return inference.submit(request);
        } catch (InferenceException e) {
            if (e.kind() == InferenceException.Kind.OVERLOADED || e.kind() == InferenceException.Kind.UNAVAILABLE) {
                throw new RetryableRejection(e);
            }
            throw e;
        }
    }
}
