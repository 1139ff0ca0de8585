package dev.anvil.api.openai;

import dev.anvil.api.ApiException;
import dev.anvil.api.gateway.CallerContext;
import dev.anvil.guardrails.GuardrailPolicy;
import dev.anvil.guardrails.JsonOutputRequirement;
import dev.anvil.guardrails.OutputTextGuard;
import dev.anvil.routing.CascadeCheck;
import dev.anvil.routing.Complexity;
import dev.anvil.routing.RouteRules;
import dev.anvil.routing.RouterDirectory;
import dev.anvil.routing.RouterMetrics;
import dev.anvil.routing.RouterSpec;
import dev.anvil.serving.GenerationHandle;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import dev.anvil.serving.TokenLogprob;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Cost-aware routing, part of stage 2 of a {@code /v1} generation ({@link GenerationPipeline#generate}): a request
 * whose {@code model} names a router ({@code /api/routers}) is served by the candidate {@link RouteRules} chooses,
 * from what is known before anything runs (its prompt tokens under the cheapest candidate's tokenizer and
 * template, {@code max_tokens}, the {@link Complexity} of its texts, the caller's
 * {@value #LATENCY_BUDGET_HEADER} and tenant). The rest of the pipeline sees the chosen model as if the caller had
 * named it. With a cascade, a plain (non-streamed) answer of a cheaper candidate is awaited and checked
 * ({@link CascadeCheck}); one that fails is answered again by the largest allowed candidate. A streamed request is
 * routed by the rules alone, never cascaded: what was streamed cannot be taken back.
 *
 * <p>The answer carries {@value #MODEL_HEADER} (the model name that answered), {@value #REASON_HEADER} and, for
 * routers with a cascade, {@value #CASCADE_HEADER} ({@code passed}, {@code escalated}, or {@code skipped} for a
 * stream) with {@value #CHECK_HEADER} naming the failed check.
 */
@ApplicationScoped
public class CostRouting {

    public static final String LATENCY_BUDGET_HEADER = "X-Anvil-Latency-Budget-Ms";
    public static final String MODEL_HEADER = "X-Anvil-Routed-Model";
    public static final String REASON_HEADER = "X-Anvil-Route-Reason";
    public static final String CASCADE_HEADER = "X-Anvil-Cascade";
    public static final String CHECK_HEADER = "X-Anvil-Cascade-Check";
    /** The longest latency budget a caller may give: an hour. */
    static final long MAX_LATENCY_BUDGET_MS = 3_600_000;
    /** Prefix of the request attributes {@link RouteHeadersFilter} turns into headers. */
    static final String ATTRIBUTE = CostRouting.class.getName() + ".";

    @Inject
    RouterDirectory routers;

    @Inject
    RouterMetrics metrics;

    @Inject
    ServedModels models;

    @Inject
    CallerContext caller;

    /**
     * A routed request: the router, its decision, and the options with the chosen model.
     *
     * @param cascades whether the answer is checked and may be escalated (a cascade, a cheaper candidate chosen,
     *                 and a plain answer)
     */
    record Plan(
            String router, RouterSpec spec, RouteRules.Decision decision, GenerationOptions options, boolean cascades) {

        CallerContext.RoutedAttempt first() {
            return new CallerContext.RoutedAttempt(router, decision.reason(), 1, spec.largest());
        }

        CallerContext.RoutedAttempt escalation(String check) {
            return new CallerContext.RoutedAttempt(router, "escalated_" + check, 2, null);
        }
    }

    /**
     * The plan for {@code request}, or null when its model names no router (then nothing here applies). The caller's
     * key must allow the router's name (403); its candidates are the operator's choice on the router's behalf.
     */
    Plan plan(HttpServletRequest http, GenerationRequest request) {
        GenerationOptions options = request.options();
        RouterSpec spec = routers.router(options.model());
        if (spec == null) return null;
        String name = options.model();
        caller.requireModel(name);
        Long budget = latencyBudget(http);
        // The prompt as the cheapest candidate reads it (its tokenizer and chat template): what its limit is about.
        ServedModel cheapest = models.served(spec.candidates().getFirst().model(), request.endpoint().promptParam);
        List<String> texts = request.inputTexts(cheapest);
        int promptTokens = 0;
        for (int[] p :
                request.prompts(cheapest, options, texts, texts).tokensFor().apply(cheapest)) {
            promptTokens = Math.max(promptTokens, p.length);
        }
        String tenant = caller.key() == null ? null : caller.key().tenant();
        RouteRules.Signals signals = new RouteRules.Signals(
                promptTokens, options.maxTokens(), Complexity.score(String.join("\n", texts)), budget, tenant);
        RouteRules.Decision d =
                RouteRules.choose(spec, signals, c -> routers.latencies().estimateMs(name, c, options.maxTokens()));
        boolean cascades = d.escalateTo() != null && !options.stream();
        metrics.routed(name, d.model(), d.reason());
        header(http, MODEL_HEADER, d.model());
        header(http, REASON_HEADER, d.reason());
        if (spec.cascades()) header(http, CASCADE_HEADER, options.stream() ? "skipped" : "passed");
        Plan plan = new Plan(name, spec, d, options.servedBy(d.model()), cascades);
        caller.routedAs(plan.first());
        return plan;
    }

    /** The caller's latency budget (ms), or null; 400 when the header is not a whole number in range. */
    static Long latencyBudget(HttpServletRequest http) {
        String value = http == null ? null : http.getHeader(LATENCY_BUDGET_HEADER);
        if (value == null || value.isBlank()) return null;
        try {
            long ms = Long.parseLong(value.strip());
            if (ms >= 1 && ms <= MAX_LATENCY_BUDGET_MS) return ms;
        } catch (NumberFormatException e) {
            // answered below
        }
        throw ApiException.badRequest(
                LATENCY_BUDGET_HEADER + " must be a whole number of milliseconds from 1 to " + MAX_LATENCY_BUDGET_MS
                        + ", was '" + (value.length() > 32 ? value.substring(0, 32) + "..." : value) + "'",
                LATENCY_BUDGET_HEADER);
    }

    /**
     * The cascade's check on its first answer, once it finished (awaited here, on the request thread, at most
     * {@code timeoutSeconds}): the failed check's name, or null when the answer stands (also when it failed or timed
     * out: then it is answered as any failed generation is, without a second attempt).
     */
    String check(Plan plan, Submission first, GuardrailPolicy policy, JsonOutputRequirement json, long timeoutSeconds) {
        List<GenerationResult> results;
        try {
            results = first.results().get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (Exception e) {
            return null;
        }
        List<CascadeCheck.Answer> answers = new ArrayList<>();
        for (GenerationResult r : results) {
            for (GenerationResult.Choice c : r.choices()) {
                answers.add(new CascadeCheck.Answer(c.text(), meanLogprob(c)));
            }
        }
        return CascadeCheck.failure(
                plan.spec().cascade(),
                answers,
                text -> withheld(policy, text),
                text -> json != null && !json.problems(text).isEmpty());
    }

    /** The cascade escalates after {@code check} failed: counted, and said in the answer's headers. */
    void escalated(HttpServletRequest http, Plan plan, String check) {
        metrics.escalated(plan.router(), check);
        metrics.routed(plan.router(), plan.decision().escalateTo(), "escalated_" + check);
        header(http, MODEL_HEADER, plan.decision().escalateTo());
        header(http, CASCADE_HEADER, "escalated");
        header(http, CHECK_HEADER, check);
        caller.routedAs(plan.escalation(check));
    }

    /**
     * Once the answering generation ended: its time to first token and per output token, as the router's
     * latency observation of that candidate (a cache replay has no timings and is not observed).
     */
    void observeWhenDone(Plan plan, String model, Submission submission) {
        submission.results().whenComplete((results, error) -> {
            if (error != null || results == null) return;
            int completion =
                    results.stream().mapToInt(r -> r.usage().completionTokens()).sum();
            for (GenerationHandle.Timings t : submission.timings()) {
                if (t.firstTokenNanos() == 0 || t.finishedNanos() == 0) continue;
                double ttft = (t.firstTokenNanos() - t.submittedNanos()) / 1e6;
                double tpot = completion > 1 ? (t.finishedNanos() - t.firstTokenNanos()) / 1e6 / (completion - 1) : 0;
                routers.latencies().observe(plan.router(), model, ttft, tpot);
                return;
            }
        });
    }

    /** The results without the log-probabilities the cascade asked for internally (the caller asked for none). */
    static List<GenerationResult> withoutLogprobs(List<GenerationResult> results) {
        List<GenerationResult> out = new ArrayList<>(results.size());
        for (GenerationResult r : results) {
            List<GenerationResult.Choice> choices = new ArrayList<>();
            for (GenerationResult.Choice c : r.choices()) {
                choices.add(new GenerationResult.Choice(
                        c.index(), c.text(), c.tokens(), c.finishReason(), null, c.meanLogprob()));
            }
            out.add(new GenerationResult(r.requestId(), r.model(), List.copyOf(choices), r.usage()));
        }
        return out;
    }

    /** A choice's mean token log-probability: from its tokens' log-probabilities when it has them (a replay does). */
    static double meanLogprob(GenerationResult.Choice c) {
        if (c.logprobs() == null || c.logprobs().isEmpty()) return c.meanLogprob();
        double sum = 0;
        for (TokenLogprob t : c.logprobs()) sum += t.logprob();
        return sum / c.logprobs().size();
    }

    /** Whether the policy's output guardrails would withhold {@code text} (checked without counting findings). */
    private static boolean withheld(GuardrailPolicy policy, String text) {
        OutputTextGuard guard = new OutputTextGuard(policy, null, (check, action) -> {});
        OutputTextGuard.Step step = guard.append(text);
        return step.blocked() || guard.finish().blocked();
    }

    private static void header(HttpServletRequest http, String name, String value) {
        if (http != null) http.setAttribute(ATTRIBUTE + name, value);
    }
}
