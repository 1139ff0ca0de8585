package dev.anvil.resilience;

import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationHandle;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.InferenceException;
import dev.anvil.serving.InferenceRequest;
import dev.anvil.serving.InferenceService;
import dev.anvil.serving.ServedModel;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.logging.Logger;
import org.eclipse.microprofile.faulttolerance.exceptions.TimeoutException;

/**
 * Submits a request's generations to the version it was routed to, behind that version's circuit breaker, and
 * degrades when the version cannot take it: first to the model configured as its fallback
 * ({@code anvil.resilience.fallback-model.<name>}), then to a fixed message ({@code anvil.resilience.fallback-message}),
 * else the original 503. Only failures of the model count against its breaker (refusals as unavailable, failed
 * generations, submission timeouts); client errors, cancellations and a full queue (load, not failure) do not.
 */
@ApplicationScoped
public class ResilientInference {

    private static final Logger LOG = Logger.getLogger(ResilientInference.class.getName());

    /** Where a request went, and whether that was a fallback. */
    public record Routed(ServedModel model, List<GenerationHandle> handles, Fallback fallback) {}

    /**
     * A fallback taken.
     *
     * @param from   the version the request was routed to
     * @param target the model version that answered, or {@code message} for the fixed message
     */
    public record Fallback(String from, String target, FallbackReason reason) {
        /** The {@code X-Anvil-Fallback} header value. */
        public String header() {
            return target + "; from=" + from + "; reason=" + reason.wireName();
        }
    }

    public static final String MESSAGE_TARGET = "message";

    @EJB
    InferenceService inference;

    @Inject
    SubmissionAttempts attempts;

    @Inject
    CircuitBreakers breakers;

    @Inject
    ResilienceConfig config;

    /**
     * @param requestsFor the requests (one per prompt) as they must be for a given model version (prompts are
     *                    tokenized with that version's tokenizer)
     * @throws InferenceException a client error as it is; OVERLOADED/UNAVAILABLE when no fallback could answer
     */
    public Routed submit(ServedModel primary, Function<ServedModel, List<InferenceRequest>> requestsFor) {
        Attempt first = attempt(primary, requestsFor);
        if (first.handles != null) return new Routed(primary, first.handles, null);

        String target = config.fallbackModel(primary.name());
        if (target != null) {
            ServedModel fallback = resolveFallback(target, primary);
            if (fallback != null) {
                Attempt second = attempt(fallback, requestsFor);
                if (second.handles != null) {
                    breakers.fellBack(primary, first.reason, fallback.ref());
                    LOG.info(() ->
                            primary.ref() + " " + first.reason.wireName() + ": answered by fallback " + fallback.ref());
                    return new Routed(
                            fallback, second.handles, new Fallback(primary.ref(), fallback.ref(), first.reason));
                }
            }
        }
        String message = config.fallbackMessage(primary.name());
        if (message != null) {
            List<GenerationHandle> canned = new ArrayList<>();
            for (InferenceRequest r : requestsFor.apply(primary)) {
                int[] tokens = primary.tokenizer().encode(message, false);
                canned.add(GenerationHandle.completed(
                        r.requestId(), primary, r.promptTokens().length, r.n(), message, tokens));
            }
            breakers.fellBack(primary, first.reason, MESSAGE_TARGET);
            return new Routed(primary, canned, new Fallback(primary.ref(), MESSAGE_TARGET, first.reason));
        }
        throw first.error;
    }

    private ServedModel resolveFallback(String target, ServedModel primary) {
        try {
            ServedModel m = inference.resolve(target);
            return m.ref().equals(primary.ref()) ? null : m;
        } catch (InferenceException e) {
            LOG.warning(() ->
                    "fallback model '" + target + "' of " + primary.name() + " cannot be used: " + e.getMessage());
            return null;
        }
    }

    /** handles != null on success; otherwise reason + error say why this version could not take the request. */
    private record Attempt(List<GenerationHandle> handles, FallbackReason reason, InferenceException error) {}

    private Attempt attempt(ServedModel model, Function<ServedModel, List<InferenceRequest>> requestsFor) {
        VersionCircuitBreaker breaker = breakers.of(model);
        VersionCircuitBreaker.Permit permit = breaker.acquire();
        if (!permit.allowed()) {
            long waitSeconds = Math.max(1, (breaker.millisUntilTrial() + 999) / 1000);
            return new Attempt(
                    null,
                    FallbackReason.CIRCUIT_OPEN,
                    InferenceException.unavailable(
                            "model " + model.ref() + " is failing and its circuit breaker is open; retry in "
                                    + waitSeconds + " s",
                            (int) waitSeconds));
        }
        List<GenerationHandle> handles = new ArrayList<>();
        try {
            for (InferenceRequest r : requestsFor.apply(model)) handles.add(attempts.submit(r));
        } catch (RetryableRejection e) {
            cancel(handles);
            InferenceException cause = e.rejection();
            if (cause.kind() == InferenceException.Kind.OVERLOADED) {
                // A full queue is load, not a broken version: shed to the fallback, but do not trip the breaker
                // (a burst would otherwise cut a healthy model off for the whole delay).
                breaker.ignored(permit);
                return new Attempt(null, FallbackReason.OVERLOADED, cause);
            }
            breaker.failure(permit);
            return new Attempt(null, FallbackReason.UNAVAILABLE, cause);
        } catch (TimeoutException e) {
            cancel(handles);
            breaker.failure(permit);
            return new Attempt(
                    null,
                    FallbackReason.TIMEOUT,
                    InferenceException.unavailable(
                            "model " + model.ref() + " did not accept the request in time (" + e.getMessage() + ")",
                            1));
        } catch (RuntimeException e) {
            cancel(handles);
            breaker.ignored(permit);
            throw e;
        }
        watch(breaker, permit, handles);
        return new Attempt(List.copyOf(handles), null, null);
    }

    /** Reports the generations' outcome to the breaker once all of them ended. */
    private static void watch(
            VersionCircuitBreaker breaker, VersionCircuitBreaker.Permit permit, List<GenerationHandle> handles) {
        CompletableFuture<?>[] results =
                handles.stream().map(h -> h.result().toCompletableFuture()).toArray(CompletableFuture[]::new);
        CompletableFuture.allOf(results).whenComplete((x, error) -> {
            if (error != null) {
                breaker.failure(permit);
                return;
            }
            boolean cancelled = false;
            for (CompletableFuture<?> f : results) {
                GenerationResult r = (GenerationResult) f.join();
                for (GenerationResult.Choice c : r.choices()) cancelled |= c.finishReason() == FinishReason.CANCELLED;
            }
            if (cancelled) breaker.ignored(permit);
            else breaker.success(permit);
        });
    }

    private static void cancel(List<GenerationHandle> handles) {
        for (GenerationHandle h : handles) h.cancel();
    }
}
