package dev.anvil.routing;

import dev.anvil.engine.SamplingParams;
import dev.anvil.engine.SequenceRequest;
import dev.anvil.experiments.PendingShadowComparison;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.InferenceRequest;
import dev.anvil.serving.InferenceService;
import jakarta.annotation.Resource;
import jakarta.ejb.EJB;
import jakarta.enterprise.concurrent.ManagedExecutorService;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs the shadow copies of a SHADOW experiment's live requests: on a container-managed thread (never the request's),
 * at LOW priority in the shadow version's batch (admitted only with spare capacity, preempted first), with the
 * shadow variant's parameters and the control's seed. The shadow's answer goes nowhere but into a comparison with
 * the control's answer once both are done; a shadow that cannot run (overloaded, loading) is skipped and counted.
 */
@ApplicationScoped
public class ShadowRunner {

    private static final Logger LOG = Logger.getLogger(ShadowRunner.class.getName());

    /** What the caller got from the control. */
    public record ControlAnswer(String text, int completionTokens, long latencyMs) {}

    @Resource
    ManagedExecutorService executor;

    @EJB
    InferenceService inference;

    @Inject
    OutcomeRecorder recorder;

    @Inject
    ExperimentMetrics metrics;

    /**
     * Starts the shadow copies of one request (returns at once).
     *
     * @param control completes with the control's answer (or exceptionally when it failed: nothing is compared then)
     */
    public void copy(
            Route route,
            String responseId,
            int[] prompt,
            SamplingParams sampling,
            Integer maxTokens,
            List<String> stop,
            CompletionStage<ControlAnswer> control) {
        for (Route.Shadow shadow : route.shadows()) {
            executor.execute(() -> run(route, shadow, responseId, prompt, sampling, maxTokens, stop, control));
        }
    }

    private void run(
            Route route,
            Route.Shadow shadow,
            String responseId,
            int[] prompt,
            SamplingParams sampling,
            Integer maxTokens,
            List<String> stop,
            CompletionStage<ControlAnswer> control) {
        SamplingParams s = sampling;
        if (shadow.temperature() != null)
            s = s.withTemperature(shadow.temperature().floatValue());
        if (shadow.topP() != null) s = s.withTopP(shadow.topP().floatValue());
        long start = System.nanoTime();
        CompletableFuture<GenerationResult> result;
        try {
            // A listener that ignores the tokens: without one the handle would buffer every event for a reader to come.
            result = inference
                    .submit(
                            new InferenceRequest(
                                    route.model() + "@" + shadow.version(),
                                    prompt,
                                    s,
                                    shadow.maxTokens() != null ? shadow.maxTokens() : maxTokens,
                                    stop,
                                    1,
                                    null,
                                    "shadow-" + responseId,
                                    SequenceRequest.Priority.LOW),
                            (index, text, logprob) -> {})
                    .result()
                    .toCompletableFuture();
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "shadow copy of " + responseId + " to " + shadow.variant() + " skipped", e);
            metrics.shadow(route.experiment(), shadow.variant(), "skipped");
            return;
        }
        result.handle((r, error) -> {
            long shadowMs = (System.nanoTime() - start) / 1_000_000;
            metrics.shadow(route.experiment(), shadow.variant(), error == null ? "ok" : "error");
            control.whenComplete((c, controlError) -> {
                if (controlError != null) return;
                String text = error == null ? r.choices().getFirst().text() : "";
                int tokens = error == null ? r.usage().completionTokens() : 0;
                recorder.record(new PendingShadowComparison(
                        shadow.variantId(),
                        responseId,
                        c.latencyMs(),
                        shadowMs,
                        c.completionTokens(),
                        tokens,
                        c.text().length(),
                        text.length(),
                        error == null && OutputComparison.agree(c.text(), text),
                        error == null ? OutputComparison.similarity(c.text(), text) : 0,
                        error != null,
                        Instant.now()));
            });
            return null;
        });
    }
}
