package dev.anvil.api.openai;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.api.gateway.ApiKeyFilter;
import dev.anvil.api.gateway.CallerContext;
import dev.anvil.api.tracing.RequestTracing;
import dev.anvil.cache.ResponseCache;
import dev.anvil.engine.GrammarConstraint;
import dev.anvil.guardrails.GuardrailPolicies;
import dev.anvil.guardrails.GuardrailPolicy;
import dev.anvil.guardrails.GuardrailViolation;
import dev.anvil.guardrails.Guardrails;
import dev.anvil.resilience.ResilientInference;
import dev.anvil.serving.GenerationHandle;
import dev.anvil.serving.InferenceException;
import dev.anvil.serving.InferenceRequest;
import dev.anvil.serving.InferenceService;
import dev.anvil.serving.ServedModel;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Context;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.json.JsonObject;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.container.AsyncResponse;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * The one path of a {@code /v1} generation request, the same for completions and chat ({@link #generate}); the
 * endpoints only parse their body into a {@link GenerationRequest} and shape the answer. The stages, in order:
 *
 * <ol>
 *   <li><b>gateway</b>, before the resource: {@code ApiKeyFilter} (the key, its tenant, requests/minute, budget);</li>
 *   <li><b>routing</b> ({@link #route}): the key's model scope (403), the caller's own {@code name@version} pin (403),
 *       then the experiment's variant, its exact version and parameters;</li>
 *   <li><b>model</b>: the routed version resolved (404, loaded on demand);</li>
 *   <li><b>input guardrails</b> ({@link #guardInput}): the tenant's policy on the caller's texts (400 or redaction);</li>
 *   <li><b>admission</b>: the prompts tokenized for the version (chat: through its template), then the key's
 *       concurrent-requests slot and a reservation of prompt + max_tokens × n (429), a stream slot (503);</li>
 *   <li><b>response cache</b> on the exact version, in the caller's tenant scope: a hit is replayed, no inference;</li>
 *   <li><b>submission</b> through {@link ResilientInference} (breaker, retries, fallback model or message), with the
 *       experiment outcome and the cache store registered for when it ends;</li>
 *   <li><b>answer</b> ({@link AnswerWriter}): output guardrails on the JSON body or the SSE stream; when the
 *       generation ends its usage is settled and audited, and what the request held goes back.</li>
 * </ol>
 *
 * <p>Why this order: who may use a model and which version serves are decided before anything reads the content
 * (a caller refused the model hears 403, never what the content policy thinks of its text); the guardrails run on
 * the resolved version, whose tokenizer is the only reader of token prompts; nothing is reserved for a request the
 * guardrails refuse; a cached answer is still admitted and billed like a generated one.
 */
@ApplicationScoped
public class GenerationPipeline {

    private static final Logger LOG = Logger.getLogger(GenerationPipeline.class.getName());

    @Inject
    ServedModels models;

    @Inject
    ExperimentTraffic experiments;

    @Inject
    DriftTraffic drift;

    @Inject
    RequestTracing tracing;

    @Inject
    Guardrails guardrails;

    @Inject
    GuardrailPolicies guardrailPolicies;

    @Inject
    ResponseCacheStage cache;

    @Inject
    ResilientInference resilience;

    /** The bound on open streams and the watchdog that cuts clients that stopped reading. */
    @Inject
    OpenStreams openStreams;

    @Inject
    AnswerWriter answers;

    /** The gateway's view of the caller (API key scope, admission, usage settlement); request-scoped. */
    @Inject
    CallerContext caller;

    @Inject
    OpenAiConfig config;

    /** Compiles the grammar a request's output must follow (400 for a bad one, before anything else runs). */
    @Inject
    RequestGrammars grammars;

    @Inject
    CostRouting costRouting;

    /**
     * Runs a generation request: reads its JSON body (at most {@code anvil.api.max-body-bytes}) and has the endpoint
     * {@code parse} it, then runs every stage; any refusal answers the request with its error.
     */
    void generate(
            HttpServletRequest http,
            AsyncResponse async,
            InputStream body,
            String contentLength,
            Function<JsonObject, GenerationRequest> parse) {
        AnswerWriter.disableContainerAsyncTimeout(http);
        Context trace = tracing.current();
        try (RequestTracing.LogContext logged = RequestTracing.logContext(trace)) {
            long[] gateway = ApiKeyFilter.requestFilterSpan(http);
            if (gateway != null) tracing.finished(trace, "anvil.gateway", gateway[0], gateway[1], Attributes.empty());
            GenerationRequest request =
                    parse.apply(RequestBodies.readObject(body, contentLength, config.maxBodyBytes()));
            GrammarConstraint grammar = grammars.compile(request.grammar());
            CostRouting.Plan[] plan = new CostRouting.Plan[1]; // a router's plan, when the model names a router
            GenerationOptions options = tracing.inSpan("anvil.routing", () -> {
                plan[0] = costRouting.plan(http, request);
                return plan[0] == null ? route(request.options(), true) : route(plan[0].options(), false);
            });
            ServedModel model =
                    tracing.inSpan("anvil.model", () -> models.served(options.model(), request.endpoint().promptParam));
            if (model.embeds()) throw InferenceErrors.exception(InferenceService.notAGenerator(model), null);
            List<String> given = request.inputTexts(model);
            CheckedInput input = tracing.inSpan(
                    "anvil.guardrails.input", () -> guardInput(http, given, request.endpoint().promptParam));
            RequestGuardrails guard =
                    new RequestGuardrails(input.policy(), input.check().findings(), request.jsonOutput());
            GenerationRequest.Prompts prompts =
                    request.prompts(model, options, given, input.check().texts());
            boolean cascades = plan[0] != null && plan[0].cascades();
            String id = newId(request.endpoint().idPrefix);
            String promptText = String.join("\n", input.check().texts());
            // A cascade's first attempt asks for the log-probabilities its check reads (stripped unless asked for).
            Integer logprobs = cascades && request.logprobs() == null ? Integer.valueOf(0) : request.logprobs();
            Submission submission = submit(
                    id,
                    model,
                    options,
                    prompts,
                    logprobs,
                    request.endpoint().promptParam,
                    guard,
                    grammar,
                    promptText,
                    request.promptIsCallerText());
            if (cascades) {
                String failed = costRouting.check(
                        plan[0], submission, input.policy(), request.jsonOutput(), config.requestTimeoutSeconds());
                if (failed != null) {
                    // The first answer is dropped: what it held goes back, its usage is settled, and the largest
                    // allowed candidate answers (admitted again: 429 when the budget cannot take it).
                    submission.answered();
                    caller.nextAttempt();
                    costRouting.escalated(http, plan[0], failed);
                    GenerationOptions escalated =
                            options.servedBy(plan[0].decision().escalateTo());
                    ServedModel larger = models.served(escalated.model(), request.endpoint().promptParam);
                    submission = submit(
                            id,
                            larger,
                            escalated,
                            prompts,
                            request.logprobs(),
                            request.endpoint().promptParam,
                            guard,
                            grammar,
                            promptText,
                            request.promptIsCallerText());
                }
            }
            if (plan[0] != null) costRouting.observeWhenDone(plan[0], submission.model.name(), submission);
            Submission answering = submission;
            boolean strip = cascades && request.logprobs() == null;
            if (options.stream()) {
                answers.stream(async, submission, request.chunks(submission), options.includeUsage());
            } else {
                answers.complete(
                        async,
                        submission,
                        results -> request.body(answering, strip ? CostRouting.withoutLogprobs(results) : results),
                        request.endpoint().promptParam);
            }
        } catch (RuntimeException e) {
            async.resume(e);
        }
    }

    /**
     * Routing: for a plain model name covered by a RUNNING experiment, the options with the chosen variant's exact
     * version ({@code name@version}) and parameters; otherwise (no experiment, or a pinned {@code name@version}) the
     * options as they are. The caller's own access is checked first: its key's model scope (403 unless the key may
     * use the name), then its pin (403 unless it pins the version its name serves, or the caller may pin others).
     * Experiments pin variants after this, internally. A model a cost-aware router chose ({@link CostRouting}) is
     * not checked against the key's scope, which named the router.
     */
    private GenerationOptions route(GenerationOptions options, boolean checkScope) {
        String requested = options.model();
        if (checkScope) caller.requireModel(requested); // a router's candidates: its name was checked instead
        if (requested.indexOf('@') > 0) caller.requireVersionPin(requested, models.servesName(requested));
        return experiments.route(options);
    }

    /** The input check and the policy it ran under. */
    private record CheckedInput(GuardrailPolicy policy, Guardrails.InputCheck check) {}

    /**
     * Input guardrails: checks the request's input texts under the caller's policy (the tenant's; the server default
     * without one). A blocking finding is a 400 {@code guardrail_violation} naming the check.
     */
    private CheckedInput guardInput(HttpServletRequest http, List<String> texts, String what) {
        GuardrailPolicy policy = guardrailPolicy(http);
        try {
            return new CheckedInput(policy, guardrails.checkInput(policy, texts, what));
        } catch (GuardrailViolation v) {
            throw GuardrailErrors.exception(v);
        }
    }

    /**
     * The caller's guardrail policy: the tenant of the caller's API key; for an anonymous caller, the tenant named by
     * the header {@code anvil.guardrails.tenant-header} when that is configured (off by default), else the default.
     */
    private GuardrailPolicy guardrailPolicy(HttpServletRequest http) {
        // The authenticated tenant (API key) decides; the configured header only names one for anonymous callers.
        String tenant = caller.key() != null ? caller.key().tenant() : null;
        String header = guardrailPolicies.tenantHeader();
        if (tenant == null && header != null && http != null) tenant = http.getHeader(header);
        try {
            return guardrailPolicies.forTenant(tenant);
        } catch (IllegalArgumentException e) {
            throw new ApiException(
                    500,
                    ApiErrors.TYPE_SERVER,
                    "the guardrail configuration" + (tenant == null ? "" : " of tenant '" + tenant + "'")
                            + " is invalid: " + e.getMessage(),
                    null,
                    "guardrail_configuration");
        }
    }

    /**
     * Once the generation is over, its phases as spans of the request's trace, drawn from the generations' own marks
     * (several prompts: from the first submitted to the last finished): {@code anvil.queue} (submitted to admitted),
     * {@code anvil.prefill} (admitted to first token) and {@code anvil.decode} (first to last token), with the
     * request's token counts.
     */
    private void traceGeneration(Submission submission) {
        Context parent = submission.trace();
        submission.results().whenComplete((results, error) -> {
            long submitted = Long.MAX_VALUE, admitted = Long.MAX_VALUE, first = Long.MAX_VALUE, finished = 0;
            for (GenerationHandle.Timings t : submission.timings()) {
                submitted = Math.min(submitted, t.submittedNanos());
                if (t.admittedNanos() != 0) admitted = Math.min(admitted, t.admittedNanos());
                if (t.firstTokenNanos() != 0) first = Math.min(first, t.firstTokenNanos());
                finished = Math.max(finished, t.finishedNanos());
            }
            if (submitted == Long.MAX_VALUE) return;
            int completion = results == null
                    ? 0
                    : results.stream()
                            .mapToInt(r -> r.usage().completionTokens())
                            .sum();
            long end = finished == 0 ? System.nanoTime() : finished; // failed or cancelled: up to now
            long admittedOr = admitted == Long.MAX_VALUE ? end : admitted;
            tracing.finished(parent, "anvil.queue", submitted, admittedOr, Attributes.empty());
            if (admitted == Long.MAX_VALUE) return;
            long firstOr = first == Long.MAX_VALUE ? end : first;
            tracing.finished(parent, "anvil.prefill", admitted, firstOr, Attributes.of(PROMPT_TOKENS, (long)
                    submission.totalPromptTokens()));
            if (first != Long.MAX_VALUE) {
                tracing.finished(
                        parent, "anvil.decode", first, end, Attributes.of(COMPLETION_TOKENS, (long) completion));
            }
        });
    }

    private static final AttributeKey<Long> PROMPT_TOKENS = AttributeKey.longKey("gen_ai.usage.input_tokens");
    private static final AttributeKey<Long> COMPLETION_TOKENS = AttributeKey.longKey("gen_ai.usage.output_tokens");

    /** A fresh response id: a prefix and 128 random bits, unique per response. */
    static String newId(String prefix) {
        // 128 random bits: unique enough for response ids, without SecureRandom's cost and lock per request.
        ThreadLocalRandom r = ThreadLocalRandom.current();
        return prefix
                + HexFormat.of().toHexDigits(r.nextLong())
                + HexFormat.of().toHexDigits(r.nextLong());
    }

    /**
     * What a generation may use at most: per prompt its tokens plus {@code n} times the completion limit (max_tokens,
     * else what the context leaves; never more than the context leaves, since a longer request is refused anyway).
     */
    static long reservedTokens(ServedModel model, List<int[]> prompts, int n, Integer maxTokens) {
        long total = 0;
        for (int[] prompt : prompts) {
            long room = Math.max(0, model.contextLength() - prompt.length);
            total += prompt.length + (long) n * (maxTokens == null ? room : Math.min(maxTokens, room));
        }
        return total;
    }

    /**
     * Admission, the response cache and the submission: one generation per prompt, all pinned to {@code model}'s
     * exact version (or a fallback's). If the submission is refused, what admission took goes back and the refusal
     * is thrown as its HTTP error.
     */
    private Submission submit(
            String id,
            ServedModel model,
            GenerationOptions options,
            GenerationRequest.Prompts prompts,
            Integer logprobs,
            String promptParam,
            RequestGuardrails guard,
            GrammarConstraint grammar,
            String promptText,
            boolean promptIsCallerText) {
        if (options.user() != null) {
            LOG.fine(() -> id + " for user " + options.user());
        }
        GuardedOutput output = new GuardedOutput(guardrails::outputGuard, guard);
        if (options.stream() && logprobs != null && output.transformsStream()) {
            throw ApiException.badRequest(
                    "streamed logprobs cannot be combined with this policy's output guardrails, "
                            + "which may redact or withhold text as it is generated; ask without 'stream' or without 'logprobs'",
                    "logprobs");
        }
        List<int[]> tokens = prompts.tokensFor().apply(model);
        // gateway: the key's concurrent-requests slot and a reservation of what this may use (429 when refused)
        Runnable leaveSlot = caller.admitGeneration(reservedTokens(model, tokens, options.n(), options.maxTokens()));
        OpenStreams.Stream streamSlot = null;
        try {
            if (options.stream()) streamSlot = openStreams.admit(); // 503 when the server has its limit of open streams
            List<Runnable> held = streamSlot == null ? List.of(leaveSlot) : List.of(leaveSlot, streamSlot::close);
            return submitAdmitted(
                    id,
                    model,
                    options,
                    prompts,
                    tokens,
                    logprobs,
                    promptParam,
                    output,
                    streamSlot,
                    held,
                    grammar,
                    promptText,
                    promptIsCallerText);
        } catch (RuntimeException e) {
            caller.abandonGeneration(); // nothing ran: the reservation and the slot go back
            if (streamSlot != null) streamSlot.close();
            throw e;
        }
    }

    private Submission submitAdmitted(
            String id,
            ServedModel model,
            GenerationOptions options,
            GenerationRequest.Prompts prompts,
            List<int[]> tokens,
            Integer logprobs,
            String promptParam,
            GuardedOutput output,
            OpenStreams.Stream streamSlot,
            List<Runnable> held,
            GrammarConstraint requested,
            String promptText,
            boolean promptIsCallerText) {
        // What each version's output must follow: its own tool-call grammar where the request has tools, otherwise
        // the grammar the request asked for (response_format JSON, the grammar extension).
        Function<ServedModel, GrammarConstraint> grammarFor = m -> {
            GrammarConstraint own = prompts.grammarFor().apply(m);
            return own != null ? own : requested;
        };
        // The response cache, on the exact version routing chose: a hit is answered without inference. The semantic
        // cache compares the caller's texts, so only where they are all the prompt holds.
        String similarityText = promptIsCallerText ? promptText : null;
        ResponseCache.Lookup lookup = tracing.inSpan("anvil.cache", () -> {
            ResponseCache.Lookup l =
                    cache.lookUp(model, options, tokens, logprobs, grammarFor.apply(model), similarityText);
            Span.current().setAttribute("anvil.cache.status", l.status());
            return l;
        });
        if (lookup instanceof ResponseCache.Lookup.Hit) {
            Submission.Setup setup = new Submission.Setup(null, output, lookup, streamSlot, held);
            Submission replayed =
                    Submission.replay(id, model, options.n(), prompts.texts(), tokens, logprobs != null, setup);
            replayed.traceUnder(tracing.current());
            // gateway: usage of what the caller received (its tokens were generated once, earlier)
            caller.settleWhenDone(id, model, replayed.totalPromptTokens(), replayed.results(), options.user());
            return replayed;
        }
        // drift: the version's own traffic is observed once its answer is written (what it holds then includes it)
        DriftTraffic.Observer observer = drift.observer(output, promptText);
        List<Runnable> holds = new ArrayList<>(held);
        holds.add(observer);
        Submission.Setup setup = new Submission.Setup(null, output, lookup, streamSlot, holds);
        ResilientInference.Routed routed;
        try {
            routed = resilience.submit(model, m -> {
                List<InferenceRequest> requests = new ArrayList<>();
                GrammarConstraint grammar = grammarFor.apply(m);
                for (int[] prompt : m == model ? tokens : prompts.tokensFor().apply(m)) {
                    requests.add(new InferenceRequest(
                            m.ref(),
                            prompt,
                            options.sampling(),
                            options.maxTokens(),
                            options.stop(),
                            options.n(),
                            logprobs,
                            id,
                            caller.priority(),
                            grammar));
                }
                return requests;
            });
        } catch (InferenceException e) {
            // Refusals of the version itself count against the variant; a request the caller got wrong does not.
            if (e.kind() == InferenceException.Kind.UNAVAILABLE || e.kind() == InferenceException.Kind.OVERLOADED) {
                experiments.refused(options, id);
            }
            throw InferenceErrors.exception(e, promptParam);
        } catch (RuntimeException e) {
            experiments.refused(options, id);
            throw e;
        }
        // A fallback's answer is not the routed version's: it is neither cached under that version's key nor tracked
        // as the variant's outcome.
        Submission submission = Submission.live(
                id,
                routed.model(),
                options.n(),
                routed.handles(),
                prompts.texts(),
                options.stream(),
                routed.fallback() == null ? setup : setup.answeredBy(routed.fallback()));
        submission.traceUnder(tracing.current());
        traceGeneration(submission);
        if (routed.fallback() == null) {
            observer.watch(submission);
            experiments.track(submission, options, tokens);
            cache.storeWhenDone(submission);
        } else {
            experiments.refused(options, id);
        }
        // gateway: when the generation ends, debit its tokens and record usage + audit
        caller.settleWhenDone(id, routed.model(), submission.totalPromptTokens(), submission.results(), options.user());
        return submission;
    }
}
