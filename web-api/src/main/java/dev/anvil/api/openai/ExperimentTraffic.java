package dev.anvil.api.openai;

import dev.anvil.experiments.ExperimentsConfig;
import dev.anvil.experiments.PendingOutcome;
import dev.anvil.routing.ExperimentMetrics;
import dev.anvil.routing.ExperimentRouter;
import dev.anvil.routing.OutcomeRecorder;
import dev.anvil.routing.Route;
import dev.anvil.routing.ShadowRunner;
import dev.anvil.serving.GenerationResult;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The web side of experiment routing (the routing stage of {@link GenerationPipeline}): asks {@link ExperimentRouter} for the
 * variant, with the OpenAI {@code user} field (else the {@value #USER_HEADER} header) as the sticky subject key;
 * once the response is done, queues its outcome (variant, latency, time to first token, tokens, error, cost) under
 * the response id the caller got, so {@code POST /v1/feedback} with that id rates the variant; and starts the shadow
 * copies of a SHADOW experiment, whose answers never reach the caller.
 */
@ApplicationScoped
public class ExperimentTraffic {

    /** Subject key for sticky assignment when the body has no {@code user} (also an anonymous caller's identity). */
    public static final String USER_HEADER = dev.anvil.api.gateway.CallerContext.USER_HEADER;

    @Inject
    ExperimentRouter router;

    @Inject
    OutcomeRecorder outcomes;

    @Inject
    ShadowRunner shadows;

    @Inject
    ExperimentMetrics metrics;

    @Inject
    ExperimentsConfig config;

    @Inject
    HttpServletRequest http;

    /** {@code options} as the covering experiment's variant serves them, or unchanged when none covers the model. */
    GenerationOptions route(GenerationOptions options) {
        String key = options.user();
        if (key == null || key.isBlank()) key = http.getHeader(USER_HEADER);
        Route route = router.route(options.model(), key);
        return route == null ? options : options.routedTo(route);
    }

    /** Measures a routed submission when it completes, and starts its shadow copies (returns at once). */
    void track(Submission submission, GenerationOptions options, List<int[]> prompts) {
        Route route = options.route();
        if (route == null) return;
        CompletableFuture<List<GenerationResult>> results = submission.results();
        CompletableFuture<ShadowRunner.ControlAnswer> control = results.thenApply(r -> {
            GenerationResult.Choice first = r.getFirst().choices().getFirst();
            return new ShadowRunner.ControlAnswer(first.text(), first.tokens().length, millisSince(route));
        });
        results.whenComplete((r, error) -> {
            int completion = r == null
                    ? 0
                    : r.stream().mapToInt(g -> g.usage().completionTokens()).sum();
            long first = submission.firstTokenNanos();
            record(
                    route,
                    submission.id,
                    first == 0 ? null : Math.max(0, (first - route.routedAtNanos()) / 1_000_000),
                    submission.totalPromptTokens(),
                    completion,
                    error != null);
        });
        if (!route.shadows().isEmpty()) {
            // The shadow answers the first prompt once, like the control's first choice it is compared with.
            shadows.copy(
                    route,
                    submission.id,
                    prompts.getFirst(),
                    options.sampling(),
                    options.maxTokens(),
                    options.stop(),
                    control);
        }
    }

    /** Records a routed request that was refused before it was queued (an error outcome for its variant). */
    void refused(GenerationOptions options, String responseId) {
        Route route = options.route();
        if (route != null) record(route, responseId, null, 0, 0, true);
    }

    private void record(
            Route route, String responseId, Long ttftMs, int promptTokens, int completionTokens, boolean error) {
        long latencyNanos = System.nanoTime() - route.routedAtNanos();
        metrics.served(route.experiment(), route.variant(), error, latencyNanos);
        if (!route.recordOutcome()) return;
        long latencyMs = latencyNanos / 1_000_000;
        double cost = (promptTokens + completionTokens) / 1000.0 * config.costPer1kTokens();
        outcomes.record(new PendingOutcome(
                route.variantId(),
                responseId,
                latencyMs,
                ttftMs == null ? null : Math.min(ttftMs, latencyMs),
                promptTokens,
                completionTokens,
                error,
                cost,
                Instant.now()));
    }

    private static long millisSince(Route route) {
        return (System.nanoTime() - route.routedAtNanos()) / 1_000_000;
    }
}
