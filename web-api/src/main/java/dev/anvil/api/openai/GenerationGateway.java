package dev.anvil.api.openai;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.api.gateway.CallerContext;
import dev.anvil.guardrails.GuardrailPolicies;
import dev.anvil.guardrails.GuardrailPolicy;
import dev.anvil.guardrails.GuardrailViolation;
import dev.anvil.guardrails.Guardrails;
import dev.anvil.guardrails.JsonOutputRequirement;
import dev.anvil.resilience.ResilientInference;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.InferenceException;
import dev.anvil.serving.InferenceRequest;
import dev.anvil.serving.InferenceService;
import dev.anvil.serving.ServedModel;
import jakarta.annotation.PreDestroy;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.container.AsyncResponse;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * What both generation endpoints share: model resolution, submission to {@link InferenceService}, and the two
 * ways of answering. Neither way holds an HTTP worker thread or an EJB instance while tokens are generated: the
 * request is suspended ({@link AsyncResponse}) and resumed from a virtual thread of {@link #writers}, which for a
 * stream then writes the events as they come, and for a plain request writes the finished result.
 */
@ApplicationScoped
public class GenerationGateway {

    private static final Logger LOG = Logger.getLogger(GenerationGateway.class.getName());
    /** Extra time the container's async timeout allows beyond the request timeout, so our own deadline fires first. */
    private static final long ASYNC_GRACE_SECONDS = 30;

    @EJB
    InferenceService inference;

    @Inject
    OpenAiConfig config;

    @Inject
    ExperimentTraffic experiments;

    @Inject
    ResponseCacheStage cache;

    @Inject
    Guardrails guardrails;

    @Inject
    GuardrailPolicies guardrailPolicies;

    @Inject
    ResilientInference resilience;

    /** The gateway's view of the caller (API key scope, usage settlement); request-scoped. */
    @Inject
    CallerContext caller;

    /** The bound on open streams and the watchdog that cuts clients that stopped reading. */
    @Inject
    OpenStreams openStreams;

    /** Threads that write responses; virtual, since each mostly waits for tokens or for a slow client. */
    private final ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();

    @PreDestroy
    void shutdown() {
        writers.shutdownNow();
    }

    OpenAiConfig config() {
        return config;
    }

    /** The served models the caller may use: all of them, or those its API key is scoped to. */
    List<ServedModel> models() {
        var key = caller.key();
        return key == null
                ? inference.models()
                : inference.models().stream().filter(m -> key.allows(m.name())).toList();
    }

    /** Resolves {@code name} / {@code name@version}; unknown models are 404 {@code model_not_found}. */
    ServedModel resolve(String model, String promptParam) {
        caller.requireModel(model); // gateway: 403 when the API key is not scoped to this model
        try {
            return inference.resolve(model);
        } catch (InferenceException e) {
            throw InferenceErrors.exception(e, promptParam);
        }
    }

    /**
     * Stage 3, experiment routing: for a plain model name covered by a RUNNING experiment, the options with the chosen
     * variant's exact version ({@code name@version}) and parameters; otherwise (no experiment, or a pinned
     * {@code name@version}) the options as they are. The caller's own pin is checked first (403 unless it pins the
     * version its name serves, or the caller may pin others): experiments pin variants after this, internally.
     */
    GenerationOptions route(GenerationOptions options) {
        String requested = options.model();
        if (requested.indexOf('@') > 0) {
            caller.requireModel(requested); // a key outside its scope hears that first
            caller.requireVersionPin(
                    requested, inference.models().stream().anyMatch(m -> m.ref().equals(requested)));
        }
        return experiments.route(options);
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
     * Switches off the servlet container's own async timeout (WildFly: {@code default-async-context-timeout}, 30 s)
     * for a suspended generation request. That clock starts at suspension, before the body is even read; when it
     * fires before the response is committed (a busy server, a request long in the queue), the container completes
     * the response under the writer. Our deadlines ({@link OpenAiConfig#REQUEST_TIMEOUT_SECONDS}, enforced by the
     * {@link AsyncResponse} timeout and the stream's own deadline) apply instead.
     */
    static void disableContainerAsyncTimeout(HttpServletRequest request) {
        if (request != null && request.isAsyncStarted()) {
            request.getAsyncContext().setTimeout(0);
        }
    }

    /** A fresh response id: a prefix and 128 random bits, unique per response. */
    static String newId(String prefix) {
        // 128 random bits: unique enough for response ids, without SecureRandom's cost and lock per request.
        java.util.concurrent.ThreadLocalRandom r = java.util.concurrent.ThreadLocalRandom.current();
        return prefix
                + HexFormat.of().toHexDigits(r.nextLong())
                + HexFormat.of().toHexDigits(r.nextLong());
    }

    /**
     * Stage 2, input guardrails: checks the request's input texts under the caller's policy (the tenant's; the server
     * default without one). Returns the texts to generate from (redacted where the policy says so) and what the
     * output stage needs; a blocking finding is a 400 {@code guardrail_violation} naming the check.
     */
    RequestGuardrails guardInput(
            HttpServletRequest http,
            List<String> texts,
            String what,
            JsonOutputRequirement jsonOutput,
            List<String> checkedTexts) {
        GuardrailPolicy policy = guardrailPolicy(http);
        try {
            Guardrails.InputCheck check = guardrails.checkInput(policy, texts, what);
            checkedTexts.addAll(check.texts());
            return new RequestGuardrails(policy, new java.util.LinkedHashSet<>(check.findings()), jsonOutput);
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
     * Submits one generation per prompt, all pinned to {@code model}'s exact version. If a later prompt is rejected,
     * the earlier ones are cancelled and the rejection is thrown as its HTTP error.
     */
    Submission submit(
            String id,
            ServedModel model,
            GenerationOptions options,
            List<int[]> prompts,
            List<String> promptTexts,
            Integer logprobs,
            String promptParam) {
        return submit(id, model, options, m -> prompts, promptTexts, logprobs, promptParam, null);
    }

    /**
     * Stage 5, resilience: submits one generation per prompt through {@link ResilientInference} (the version's
     * circuit breaker, retry of rejected submissions, fallback model or message). {@code promptsFor} tokenizes the
     * prompts for whichever version ends up answering. {@code guard} (null: none) is applied to the output (stage 6).
     */
    Submission submit(
            String id,
            ServedModel model,
            GenerationOptions options,
            Function<ServedModel, List<int[]>> promptsFor,
            List<String> promptTexts,
            Integer logprobs,
            String promptParam,
            RequestGuardrails guard) {
        if (options.user() != null) {
            LOG.fine(() -> id + " for user " + options.user());
        }
        GuardedOutput output = guard == null ? null : new GuardedOutput(guardrails::outputGuard, guard);
        if (output != null && options.stream() && logprobs != null && output.transformsStream()) {
            throw ApiException.badRequest(
                    "streamed logprobs cannot be combined with this policy's output guardrails, "
                            + "which may redact or withhold text as it is generated; ask without 'stream' or without 'logprobs'",
                    "logprobs");
        }
        List<int[]> prompts = promptsFor.apply(model);
        // gateway: the key's concurrent-requests slot and a reservation of what this may use (429 when refused)
        Runnable leaveSlot = caller.admitGeneration(reservedTokens(model, prompts, options.n(), options.maxTokens()));
        OpenStreams.Stream streamSlot = null;
        try {
            if (options.stream()) streamSlot = openStreams.admit(); // 503 when the server has its limit of open streams
            Submission submission =
                    submitAdmitted(id, model, options, promptsFor, prompts, promptTexts, logprobs, promptParam, output);
            submission.holdUntilAnswered(leaveSlot);
            if (streamSlot != null) {
                submission.stream = streamSlot;
                submission.holdUntilAnswered(streamSlot::close);
            }
            return submission;
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
            Function<ServedModel, List<int[]>> promptsFor,
            List<int[]> prompts,
            List<String> promptTexts,
            Integer logprobs,
            String promptParam,
            GuardedOutput output) {
        // Stage 4, the response cache, on the exact version routing chose: a hit is answered without inference.
        Submission cached = cache.begin(id, model, options, prompts, promptTexts, logprobs);
        if (cached.isReplay()) {
            cached.output = output;
            // gateway: usage of what the caller received (its tokens were generated once, earlier)
            caller.settleWhenDone(id, model, cached.totalPromptTokens(), cached.results(), options.user());
            return cached;
        }
        ResilientInference.Routed routed;
        try {
            routed = resilience.submit(model, m -> {
                List<InferenceRequest> requests = new ArrayList<>();
                for (int[] prompt : m == model ? prompts : promptsFor.apply(m)) {
                    requests.add(new InferenceRequest(
                            m.ref(),
                            prompt,
                            options.sampling(),
                            options.maxTokens(),
                            options.stop(),
                            options.n(),
                            logprobs,
                            id));
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
        Submission submission = routed.fallback() == null ? cached : new Submission(id, routed.model(), options.n());
        submission.fallback = routed.fallback();
        submission.output = output;
        for (int i = 0; i < routed.handles().size(); i++) {
            submission.add(routed.handles().get(i), promptTexts.get(i), options.stream());
        }
        if (routed.fallback() == null) {
            experiments.track(submission, options, prompts);
            cache.storeWhenDone(submission);
        } else {
            experiments.refused(options, id);
        }
        // gateway: when the generation ends, debit its tokens and record usage + audit
        caller.settleWhenDone(id, routed.model(), submission.totalPromptTokens(), submission.results(), options.user());
        return submission;
    }

    /** The fallback and guardrail headers of a response. */
    private static Response.ResponseBuilder headers(Response.ResponseBuilder response, Submission submission) {
        if (submission.fallback != null) response.header(GuardrailErrors.FALLBACK_HEADER, submission.fallback.header());
        String findings = submission.output == null ? null : submission.output.header();
        if (findings != null) response.header(GuardrailErrors.FINDINGS_HEADER, findings);
        return response;
    }

    /**
     * Answers with an SSE stream of the submission's events. The stream's writes are watched ({@link OpenStreams}): a
     * client that stops reading is cut after the write timeout, its generation cancelled and its connection closed.
     * What the request holds (its key's slot, its stream slot) is given back when the writer ends, or when the
     * response cannot be written at all.
     */
    void stream(AsyncResponse async, Submission submission, SseStream.ChunkFormat format, boolean includeUsage) {
        long timeout = config.requestTimeoutSeconds();
        async.register((jakarta.ws.rs.container.CompletionCallback) failure -> submission.answered());
        async.setTimeout(timeout + ASYNC_GRACE_SECONDS, TimeUnit.SECONDS);
        async.setTimeoutHandler(ar -> submission.cancel());
        OpenStreams.Stream watched = submission.stream;
        if (watched != null) {
            Runnable closeConnection = ClientConnectionWatch.closerOfCurrentRequest();
            watched.onCut(submission.id, () -> {
                submission.cancel();
                closeConnection.run();
            });
        }
        SseStream stream = new SseStream(
                submission.output == null ? submission : submission.output.stream(submission),
                format,
                includeUsage,
                timeout,
                watched,
                submission::answered);
        writers.execute(() -> {
            boolean resumed = false;
            try {
                resumed = async.resume(headers(Response.ok(stream, "text/event-stream; charset=utf-8"), submission)
                        .header("Cache-Control", "no-cache")
                        .header("X-Accel-Buffering", "no") // tell reverse proxies not to buffer the stream
                        .header(ResponseCacheStage.HEADER, submission.cacheStatus())
                        .build());
            } finally {
                if (!resumed) { // already answered (a timeout) or the client is gone: nothing will write the stream
                    submission.cancel();
                    submission.answered();
                }
            }
        });
    }

    /** Answers with one JSON body built from the results once every generation finished (or 504 at the timeout). */
    void complete(AsyncResponse async, Submission submission, Function<List<GenerationResult>, Object> body) {
        // What the request holds goes back once it is answered, whichever way (the container's completion is the net).
        async.register((jakarta.ws.rs.container.CompletionCallback) failure -> submission.answered());
        if (submission.isReplay()) { // answered from the cache: nothing to wait for, answer on this thread
            try {
                List<GenerationResult> results = submission.results().join();
                List<GenerationResult> answered =
                        submission.output == null ? results : submission.output.apply(results);
                async.resume(
                        headers(Response.ok(OpenAiJson.toJson(body.apply(answered)), "application/json"), submission)
                                .header(ResponseCacheStage.HEADER, submission.cacheStatus())
                                .build());
            } finally {
                submission.answered();
            }
            return;
        }
        long timeout = config.requestTimeoutSeconds();
        // Nothing is written until the end, so only the connection can tell that the client left: probe it as
        // tokens come, and cancel the generation (freeing its KV blocks at the next step) when it is gone.
        ClientConnectionWatch watch = ClientConnectionWatch.ofCurrentRequest();
        submission.onProgress(() -> watch.probe(submission::cancel));
        async.setTimeout(timeout, TimeUnit.SECONDS);
        async.setTimeoutHandler(ar -> {
            watch.stop();
            submission.cancel();
            try {
                ar.resume(new ApiException(
                        504,
                        ApiErrors.TYPE_SERVER,
                        "the request did not finish within " + timeout + " seconds ("
                                + OpenAiConfig.REQUEST_TIMEOUT_SECONDS + ") and was cancelled",
                        null,
                        "timeout"));
            } finally {
                submission.answered();
            }
        });
        // The result completes on the batching thread: hop to a writer before touching the response.
        submission
                .results()
                .whenCompleteAsync(
                        (results, error) -> {
                            watch.stop(); // before anything is written: no probe may read the connection after this
                            try {
                                answer(async, submission, body, results, error);
                            } finally {
                                submission.answered();
                            }
                        },
                        writers);
    }

    /** Resumes a plain request with its finished results, or with the error its generation ended in. */
    private static void answer(
            AsyncResponse async,
            Submission submission,
            Function<List<GenerationResult>, Object> body,
            List<GenerationResult> results,
            Throwable error) {
        if (error == null) {
            try {
                List<GenerationResult> answered =
                        submission.output == null ? results : submission.output.apply(results);
                String json = OpenAiJson.toJson(body.apply(answered));
                async.resume(headers(Response.ok(json, "application/json"), submission)
                        .header(ResponseCacheStage.HEADER, submission.cacheStatus())
                        .build());
            } catch (RuntimeException e) {
                async.resume(e);
            }
            return;
        }
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        LOG.log(Level.WARNING, "generation " + submission.id + " failed", cause);
        async.resume(
                cause instanceof InferenceException ie
                        ? InferenceErrors.exception(ie, "prompt")
                        : new ApiException(
                                500,
                                ApiErrors.TYPE_SERVER,
                                "generation failed: " + cause.getMessage(),
                                null,
                                "generation_failed"));
    }
}
