package dev.anvil.api.openai;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.api.gateway.CallerContext;
import dev.anvil.serving.GenerationHandle;
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
import java.util.List;
import java.util.UUID;
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

    /** The gateway's view of the caller (API key scope, usage settlement); request-scoped. */
    @Inject
    CallerContext caller;

    /** Threads that write responses; virtual, since each mostly waits for tokens or for a slow client. */
    private final ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();

    @PreDestroy
    void shutdown() {
        writers.shutdownNow();
    }

    OpenAiConfig config() {
        return config;
    }

    List<ServedModel> models() {
        return inference.models();
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
        return prefix + UUID.randomUUID().toString().replace("-", "");
    }

    /**
     * Submits one generation per prompt, all pinned to {@code model}'s exact version. If a later prompt is rejected,
     * the earlier ones are cancelled and the rejection is thrown as its HTTP error.
     */
    Submission submit(String id, ServedModel model, GenerationOptions options, List<int[]> prompts, List<String> promptTexts,
                      Integer logprobs, String promptParam) {
        Submission submission = new Submission(id, model, options.n());
        if (options.user() != null) {
            LOG.fine(() -> id + " for user " + options.user());
        }
        try {
            for (int i = 0; i < prompts.size(); i++) {
                InferenceRequest request = new InferenceRequest(model.ref(), prompts.get(i), options.sampling(),
                        options.maxTokens(), options.stop(), options.n(), logprobs, id);
                GenerationHandle handle = inference.submit(request);
                submission.add(handle, promptTexts.get(i), options.stream());
            }
        } catch (InferenceException e) {
            submission.cancel();
            throw InferenceErrors.exception(e, promptParam);
        } catch (RuntimeException e) {
            submission.cancel();
            throw e;
        }
        // gateway: when the generation ends, debit its tokens and record usage + audit
        caller.settleWhenDone(id, model, submission.totalPromptTokens(), submission.results());
        return submission;
    }

    /** Answers with an SSE stream of the submission's events. */
    void stream(AsyncResponse async, Submission submission, SseStream.ChunkFormat format, boolean includeUsage) {
        long timeout = config.requestTimeoutSeconds();
        async.setTimeout(timeout + ASYNC_GRACE_SECONDS, TimeUnit.SECONDS);
        async.setTimeoutHandler(ar -> submission.cancel());
        SseStream stream = new SseStream(submission, format, includeUsage, timeout);
        writers.execute(() -> async.resume(Response.ok(stream, "text/event-stream; charset=utf-8")
                .header("Cache-Control", "no-cache")
                .header("X-Accel-Buffering", "no") // tell reverse proxies not to buffer the stream
                .build()));
    }

    /** Answers with one JSON body built from the results once every generation finished (or 504 at the timeout). */
    void complete(AsyncResponse async, Submission submission, Function<List<GenerationResult>, Object> body) {
        long timeout = config.requestTimeoutSeconds();
        // Nothing is written until the end, so only the connection can tell that the client left: probe it as
        // tokens come, and cancel the generation (freeing its KV blocks at the next step) when it is gone.
        ClientConnectionWatch watch = ClientConnectionWatch.ofCurrentRequest();
        submission.onProgress(() -> watch.probe(submission::cancel));
        async.setTimeout(timeout, TimeUnit.SECONDS);
        async.setTimeoutHandler(ar -> {
            watch.stop();
            submission.cancel();
            ar.resume(new ApiException(504, ApiErrors.TYPE_SERVER, "the request did not finish within " + timeout
                    + " seconds (" + OpenAiConfig.REQUEST_TIMEOUT_SECONDS + ") and was cancelled", null, "timeout"));
        });
        // The result completes on the batching thread: hop to a writer before touching the response.
        submission.results().whenCompleteAsync((results, error) -> {
            watch.stop(); // before anything is written: no probe may read the connection after this
            if (error == null) {
                try {
                    async.resume(Response.ok(OpenAiJson.toJson(body.apply(results)), "application/json").build());
                } catch (RuntimeException e) {
                    async.resume(e);
                }
                return;
            }
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            LOG.log(Level.WARNING, "generation " + submission.id + " failed", cause);
            async.resume(cause instanceof InferenceException ie ? InferenceErrors.exception(ie, "prompt")
                    : new ApiException(500, ApiErrors.TYPE_SERVER, "generation failed: " + cause.getMessage(), null,
                    "generation_failed"));
        }, writers);
    }
}
