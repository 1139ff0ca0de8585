package dev.anvil.api.openai;

import dev.anvil.cache.CachedGeneration;
import dev.anvil.cache.ResponseCache;
import dev.anvil.resilience.ResilientInference;
import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationHandle;
import dev.anvil.serving.GenerationListener;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import dev.anvil.serving.TokenLogprob;
import dev.anvil.serving.Usage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The generations of one API request: one {@link GenerationHandle} per prompt, {@code n} choices each, numbered
 * {@code promptIndex * n + choice} as OpenAI numbers them. The handles' listeners run on the batching thread
 * and only enqueue (never block); the HTTP writer drains the queue on its own thread.
 *
 * <p>A submission answered by the response cache has no handles: {@link #replay} fills its queue with the cached
 * events and its results are there at once, so both ways of answering treat it like a live one. A live submission
 * whose request the cache may store records what each choice emitted ({@link #recordedGeneration}).
 *
 * <p>What a submission is (its id, version, prompts, handles, fallback, guardrails, cache lookup, stream slot) is
 * fixed when it is made ({@link #live}, {@link #replay}, with a {@link Setup}); only the generation's progress changes
 * afterwards, and only through its own listeners and methods.
 */
final class Submission implements SseStream.EventSource {

    /** What the writer receives, in order per choice. */
    sealed interface Event {
        record Delta(int index, String text, TokenLogprob logprob) implements Event {}

        record Finish(int index, FinishReason reason) implements Event {}
        /** One prompt's choices all finished. */
        record Complete(int prompt, GenerationResult result) implements Event {}

        record Failed(Throwable error) implements Event {}
        /** An output guardrail blocked choice {@code index}: the stream ends with an error naming {@code check}. */
        record Filtered(int index, String check, String message) implements Event {}
    }

    /**
     * What the pipeline fixed about a request before its generations exist, given to the submission when it is made.
     *
     * @param fallback    the resilience fallback that answers instead of the routed version, or null
     * @param output      the output guardrails (null: the request is not guarded)
     * @param cacheLookup what the response cache said about the request (null: not consulted)
     * @param stream      a streamed request's place among the server's open streams (null for a plain answer)
     * @param held        what the request holds until its answer is written (the key's concurrent-requests slot, the
     *                    stream slot), given back once by {@link #answered()}
     */
    record Setup(
            ResilientInference.Fallback fallback,
            GuardedOutput output,
            ResponseCache.Lookup cacheLookup,
            OpenStreams.Stream stream,
            List<Runnable> held) {

        Setup {
            held = List.copyOf(held);
        }

        /**
         * This setup for a request a fallback answers: the fallback's answer is not the routed version's, so the
         * cache neither stores it under that version's key nor reports on it.
         */
        Setup answeredBy(ResilientInference.Fallback taken) {
            return new Setup(taken, output, null, stream, held);
        }
    }

    final String id;
    final long created;
    final ServedModel model;
    final int n;
    private final List<GenerationHandle> handles;
    /** Prompt token count per prompt. */
    final List<Integer> promptTokens;
    /** The prompt texts, for {@code echo}. */
    final List<String> promptTexts;
    /** The resilience fallback that answers this request instead of the routed version, or null. */
    final ResilientInference.Fallback fallback;
    /** The output guardrails, or null when the request was not guarded. */
    final GuardedOutput output;
    /** What the response cache said about this request (null: not consulted). */
    final ResponseCache.Lookup cacheLookup;
    /** A streamed submission's place among the server's open streams (null for a plain answer). */
    final OpenStreams.Stream stream;
    /** The results of a submission answered from the cache; null for a live one. */
    private final List<GenerationResult> replayed;
    /** Per prompt, per choice: the deltas emitted, when recording for the cache; else null. */
    private final List<List<List<CachedGeneration.Delta>>> recorded;
    /** What the request holds until its answer is written. */
    private final List<Runnable> heldUntilAnswered;

    private final AtomicBoolean answered = new AtomicBoolean();
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    // The generation's progress, written by this class's own listeners and hooks only:
    /** System.nanoTime() of the first generated token of any choice; 0 until then (time to first token). */
    private volatile long firstTokenNanos;
    /** Runs on the batching thread at each token of a non-streamed submission; must not block. */
    private volatile Runnable progressHook;
    /** The request's trace context (its server span), for the spans drawn on other threads; null: none. */
    private volatile io.opentelemetry.context.Context trace;

    private Submission(
            String id,
            ServedModel model,
            int n,
            List<GenerationHandle> handles,
            List<Integer> promptTokens,
            List<String> promptTexts,
            List<GenerationResult> replayed,
            boolean record,
            Setup setup) {
        this.id = id;
        this.created = System.currentTimeMillis() / 1000;
        this.model = model;
        this.n = n;
        this.handles = List.copyOf(handles);
        this.promptTokens = List.copyOf(promptTokens);
        this.promptTexts = List.copyOf(promptTexts);
        this.replayed = replayed == null ? null : List.copyOf(replayed);
        this.fallback = setup.fallback();
        this.output = setup.output();
        this.cacheLookup = setup.cacheLookup();
        this.stream = setup.stream();
        this.heldUntilAnswered = setup.held();
        if (record) {
            List<List<List<CachedGeneration.Delta>>> perPrompt = new ArrayList<>(handles.size());
            for (int p = 0; p < handles.size(); p++) {
                List<List<CachedGeneration.Delta>> perChoice = new ArrayList<>(n);
                for (int i = 0; i < n; i++) perChoice.add(new ArrayList<>());
                perPrompt.add(perChoice);
            }
            this.recorded = perPrompt;
        } else {
            this.recorded = null;
        }
    }

    /**
     * The submission of a request's generations, one handle per prompt (with its text for {@code echo}). With
     * {@code streamEvents} their events go to the queue with choice indexes shifted; otherwise only their final
     * results are used. A request the cache may store ({@code setup}'s lookup a storable miss) records its deltas.
     */
    static Submission live(
            String id,
            ServedModel model,
            int n,
            List<GenerationHandle> handles,
            List<String> promptTexts,
            boolean streamEvents,
            Setup setup) {
        boolean record = setup.cacheLookup() instanceof ResponseCache.Lookup.Miss miss && miss.mayStore();
        if (handles.size() != promptTexts.size()) {
            throw new IllegalArgumentException(handles.size() + " generations for " + promptTexts.size() + " prompts");
        }
        Submission s = new Submission(
                id,
                model,
                n,
                handles,
                handles.stream().map(GenerationHandle::promptTokens).toList(),
                promptTexts,
                null,
                record,
                setup);
        // Listeners only after construction: the batching thread may call them at once.
        for (int p = 0; p < s.handles.size(); p++) s.listen(p, streamEvents);
        return s;
    }

    private void listen(int prompt, boolean streamEvents) {
        GenerationHandle handle = handles.get(prompt);
        int offset = prompt * n;
        List<List<CachedGeneration.Delta>> deltas = recorded == null ? null : recorded.get(prompt);
        if (!streamEvents) {
            // Only progress matters: each token is a chance to check that the client still waits for the answer.
            handle.listen(new GenerationListener() {
                @Override
                public void onDelta(int index, String text, TokenLogprob logprob) {
                    if (firstTokenNanos == 0) firstTokenNanos = System.nanoTime();
                    if (deltas != null) deltas.get(index).add(new CachedGeneration.Delta(text, logprob));
                    Runnable hook = progressHook;
                    if (hook != null) hook.run();
                }
            });
            return;
        }
        handle.listen(new GenerationListener() {
            @Override
            public void onDelta(int index, String text, TokenLogprob logprob) {
                if (firstTokenNanos == 0) firstTokenNanos = System.nanoTime();
                if (deltas != null) deltas.get(index).add(new CachedGeneration.Delta(text, logprob));
                events.offer(new Event.Delta(offset + index, text, logprob));
            }

            @Override
            public void onFinish(int index, FinishReason reason) {
                events.offer(new Event.Finish(offset + index, reason));
            }

            @Override
            public void onComplete(GenerationResult result) {
                events.offer(new Event.Complete(prompt, result));
            }

            @Override
            public void onError(Throwable error) {
                events.offer(new Event.Failed(error));
            }
        });
    }

    /** System.nanoTime() of the first generated token, 0 if none came yet. */
    /** The spans of later stages (generation phases, output guard) hang under {@code context}. */
    void traceUnder(io.opentelemetry.context.Context context) {
        trace = context;
    }

    io.opentelemetry.context.Context trace() {
        return trace;
    }

    /** Each generation's phase marks (none for a replay). */
    List<dev.anvil.serving.GenerationHandle.Timings> timings() {
        return handles.stream().map(dev.anvil.serving.GenerationHandle::timings).toList();
    }

    long firstTokenNanos() {
        return firstTokenNanos;
    }

    /**
     * A submission answered from the cache ({@code setup}'s lookup a hit): the events of the cached generation are queued as a live generation
     * would have sent them (each choice's deltas, its finish, then each prompt's completion) and its results are
     * complete.
     */
    static Submission replay(
            String id, ServedModel model, int n, List<String> promptTexts, boolean logprobs, Setup setup) {
        return replay(id, model, n, promptTexts, null, logprobs, setup);
    }

    /**
     * A replay whose usage counts the caller's own prompts ({@code callerPrompts}, token ids per prompt) where the
     * cached generation answered another prompt (a semantic hit): the caller is billed and told its own prompt tokens,
     * none of them cached.
     */
    static Submission replay(
            String id,
            ServedModel model,
            int n,
            List<String> promptTexts,
            List<int[]> callerPrompts,
            boolean logprobs,
            Setup setup) {
        if (!(setup.cacheLookup() instanceof ResponseCache.Lookup.Hit hit)) {
            throw new IllegalArgumentException("a replay needs the cache's hit, got " + setup.cacheLookup());
        }
        CachedGeneration generation = hit.generation();
        List<Integer> promptTokens = new ArrayList<>();
        List<GenerationResult> results = new ArrayList<>();
        List<Event> replayedEvents = new ArrayList<>();
        for (int p = 0; p < generation.prompts().size(); p++) {
            CachedGeneration.Prompt prompt = generation.prompts().get(p);
            GenerationResult result = prompt.toResult(id, model, logprobs);
            if (hit.semantic() && callerPrompts != null) {
                int own = callerPrompts.get(p).length;
                result = new GenerationResult(
                        result.requestId(),
                        result.model(),
                        result.choices(),
                        new Usage(own, result.usage().completionTokens(), 0));
            }
            promptTokens.add(result.usage().promptTokens());
            for (CachedGeneration.Choice c : prompt.choices()) {
                int index = p * n + c.index();
                for (CachedGeneration.Delta d : c.deltas()) {
                    replayedEvents.add(new Event.Delta(index, d.text(), logprobs ? d.logprob() : null));
                }
                replayedEvents.add(new Event.Finish(index, c.finishReason()));
            }
            replayedEvents.add(new Event.Complete(p, result));
            results.add(result);
        }
        Submission s = new Submission(
                id,
                model,
                n,
                List.of(),
                promptTokens,
                promptTexts.subList(0, promptTokens.size()),
                results,
                false,
                setup);
        s.events.addAll(replayedEvents);
        return s;
    }

    /**
     * The answer is written (or failed, or was given up): everything held for it is given back. Idempotent, and
     * called from every end (the stream writer, the plain answer, a failed resume, the container's completion).
     */
    void answered() {
        if (answered.compareAndSet(false, true)) {
            for (Runnable release : heldUntilAnswered) {
                try {
                    release.run();
                } catch (RuntimeException e) {
                    java.util.logging.Logger.getLogger(Submission.class.getName())
                            .log(java.util.logging.Level.WARNING, "releasing what " + id + " held failed", e);
                }
            }
        }
    }

    /** Whether this submission is answered from the response cache. */
    boolean isReplay() {
        return replayed != null;
    }

    /** The cache's word on this request for the {@code X-Anvil-Cache} header, or null when it was not consulted. */
    String cacheStatus() {
        return cacheLookup == null ? null : cacheLookup.status();
    }

    /**
     * The generation as the cache keeps it, built from the finished {@code results} and the recorded deltas;
     * null if nothing was recorded or a choice did not finish (cancelled).
     */
    CachedGeneration recordedGeneration(List<GenerationResult> results) {
        if (recorded == null || recorded.size() != results.size()) return null;
        List<CachedGeneration.Prompt> prompts = new ArrayList<>(results.size());
        for (int p = 0; p < results.size(); p++) {
            GenerationResult result = results.get(p);
            if (!CachedGeneration.complete(result)) return null;
            List<CachedGeneration.Choice> choices = new ArrayList<>();
            for (GenerationResult.Choice c : result.choices()) {
                choices.add(new CachedGeneration.Choice(
                        c.index(), c.finishReason(), c.tokens(), recorded.get(p).get(c.index())));
            }
            prompts.add(new CachedGeneration.Prompt(
                    result.usage().promptTokens(),
                    result.usage().completionTokens(),
                    result.usage().cachedTokens(),
                    choices));
        }
        return new CachedGeneration(prompts);
    }

    int choices() {
        return promptTokens.size() * n;
    }

    /** An answer of this submission (its id, creation time and answering version) of OpenAI type {@code object}. */
    <C> OpenAiJson.Answer<C> answer(String object, List<C> choices, OpenAiJson.Usage usage) {
        return new OpenAiJson.Answer<>(id, object, created, model.ref(), null, choices, usage);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public int prompts() {
        return promptTokens.size();
    }

    @Override
    public int promptTokens() {
        return totalPromptTokens();
    }

    @Override
    public Event poll(long timeoutMillis) throws InterruptedException {
        return events.poll(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    public Event pollNow() {
        return events.poll();
    }

    /** Stops every generation of the request (their KV cache is freed at the next batching step). */
    @Override
    public void cancel() {
        for (GenerationHandle h : handles) h.cancel();
    }

    /** Sets what runs at each generated token of a non-streamed submission (on the batching thread; must not block). */
    void onProgress(Runnable hook) {
        this.progressHook = hook;
    }

    /** Completes when every prompt's result is there, with the results in prompt order. */
    CompletableFuture<List<GenerationResult>> results() {
        if (replayed != null) return CompletableFuture.completedFuture(replayed);
        List<CompletableFuture<GenerationResult>> futures =
                handles.stream().map(h -> h.result().toCompletableFuture()).toList();
        return CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new))
                .thenApply(x -> futures.stream().map(CompletableFuture::join).toList());
    }

    int totalPromptTokens() {
        return promptTokens.stream().mapToInt(Integer::intValue).sum();
    }
}
