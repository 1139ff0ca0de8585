package dev.anvil.api.openai;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.api.tracing.RequestTracing;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.InferenceException;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.container.AsyncResponse;
import jakarta.ws.rs.container.CompletionCallback;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The two ways a {@link Submission} answers its suspended request: an SSE stream of its events, or one JSON body
 * once every generation finished. Neither holds an HTTP worker thread or an EJB instance while tokens are
 * generated: the request is suspended ({@link AsyncResponse}) and resumed from a virtual thread of
 * {@link #writers}, which for a stream then writes the events as they come, and for a plain request writes the
 * finished result. The output guardrails ({@link Submission#output}) apply on both ways.
 */
@ApplicationScoped
public class AnswerWriter {

    private static final Logger LOG = Logger.getLogger(AnswerWriter.class.getName());
    /** Extra time a stream's deadline here allows beyond the request timeout, so the stream's own deadline ends it. */
    private static final long STREAM_GRACE_SECONDS = 30;

    @Inject
    OpenAiConfig config;

    @Inject
    RequestTracing tracing;

    /** Threads that write responses; virtual, since each mostly waits for tokens or for a slow client. */
    private final ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();

    /**
     * The request deadlines ({@code anvil.api.request-timeout-seconds}). Not {@link AsyncResponse#setTimeout}: RESTEasy
     * schedules that on an executor that keeps a cancelled task queued until its delay has passed, so every answered
     * request (its suspended response, its {@link Submission}, the engine sequence and, after an unload, the whole
     * model) stayed reachable for the full timeout, 10 minutes by default. Here a deadline is removed from the queue
     * the moment its request is answered.
     */
    private final ScheduledThreadPoolExecutor deadlines = new ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "anvil-request-deadlines");
        t.setDaemon(true);
        return t;
    });

    {
        deadlines.setRemoveOnCancelPolicy(true);
    }

    @PreDestroy
    void shutdown() {
        writers.shutdownNow();
        deadlines.shutdownNow();
    }

    /** Runs {@code onExpiry} after {@code seconds} unless the request is answered first (then nothing stays queued). */
    private void deadline(AsyncResponse async, long seconds, Runnable onExpiry) {
        ScheduledFuture<?> expiry = deadlines.schedule(onExpiry, seconds, TimeUnit.SECONDS);
        async.register((CompletionCallback) failure -> expiry.cancel(false));
    }

    /** Request deadlines armed and not yet expired or answered: what this writer keeps reachable. */
    int pendingDeadlines() {
        return deadlines.getQueue().size();
    }

    /**
     * Switches off the servlet container's own async timeout (WildFly: {@code default-async-context-timeout}, 30 s)
     * for a suspended generation request. That clock starts at suspension, before the body is even read; when it
     * fires before the response is committed (a busy server, a request long in the queue), the container completes
     * the response under the writer. Our deadlines ({@link OpenAiConfig#REQUEST_TIMEOUT_SECONDS}, enforced by {@link #deadlines}
     * and the stream's own deadline) apply instead.
     */
    static void disableContainerAsyncTimeout(HttpServletRequest request) {
        if (request != null && request.isAsyncStarted()) {
            request.getAsyncContext().setTimeout(0);
        }
    }

    /** The fallback and guardrail headers of a response. */
    private static Response.ResponseBuilder headers(Response.ResponseBuilder response, Submission submission) {
        if (submission.fallback != null) response.header(GuardrailErrors.FALLBACK_HEADER, submission.fallback.header());
        String findings = submission.output == null ? null : submission.output.header();
        if (findings != null) response.header(GuardrailErrors.FINDINGS_HEADER, findings);
        String traceId = RequestTracing.traceId(submission.trace());
        if (traceId != null) response.header(RequestTracing.TRACE_HEADER, traceId);
        if (submission.cacheLookup instanceof dev.anvil.cache.ResponseCache.Lookup.Hit hit && hit.semantic()) {
            response.header(
                    ResponseCacheStage.SIMILARITY_HEADER,
                    String.format(java.util.Locale.ROOT, "%.4f", hit.similarity()));
        }
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
        async.register((CompletionCallback) failure -> submission.answered());
        deadline(async, timeout + STREAM_GRACE_SECONDS, submission::cancel);
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
    void complete(
            AsyncResponse async,
            Submission submission,
            Function<List<GenerationResult>, Object> body,
            String promptParam) {
        // What the request holds goes back once it is answered, whichever way (the container's completion is the net).
        async.register((CompletionCallback) failure -> submission.answered());
        if (submission.isReplay()) { // answered from the cache: nothing to wait for, answer on this thread
            try {
                List<GenerationResult> results = submission.results().join();
                List<GenerationResult> answered = guarded(submission, results);
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
        deadline(async, timeout, () -> {
            watch.stop();
            submission.cancel();
            try {
                async.resume(new ApiException(
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
                            try (RequestTracing.LogContext logged = RequestTracing.logContext(submission.trace())) {
                                answer(async, submission, body, results, error, promptParam);
                            } finally {
                                submission.answered();
                            }
                        },
                        writers);
    }

    /** The plain answer's choices through the output guardrails, in their span of the request's trace. */
    private List<GenerationResult> guarded(Submission submission, List<GenerationResult> results) {
        if (submission.output == null) return results;
        return tracing.inSpan(submission.trace(), "anvil.guardrails.output", () -> submission.output.apply(results));
    }

    /** Resumes a plain request with its finished results, or with the error its generation ended in. */
    private void answer(
            AsyncResponse async,
            Submission submission,
            Function<List<GenerationResult>, Object> body,
            List<GenerationResult> results,
            Throwable error,
            String promptParam) {
        if (error == null) {
            try {
                List<GenerationResult> answered = guarded(submission, results);
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
                        ? InferenceErrors.exception(ie, promptParam)
                        : new ApiException(
                                500,
                                ApiErrors.TYPE_SERVER,
                                "generation failed: " + cause.getMessage(),
                                null,
                                "generation_failed"));
    }
}
