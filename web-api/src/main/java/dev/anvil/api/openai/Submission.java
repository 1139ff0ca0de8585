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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The generations of one API request: one {@link GenerationHandle} per prompt, {@code n} choices each, numbered
 * {@code promptIndex * n + choice} as OpenAI numbers them. The handles' listeners run on the batching thread
 * and only enqueue (never block); the HTTP writer drains the queue on its own thread.
 *
 * <p>A submission answered by the response cache has no handles: {@link #replay} fills its queue with the cached
 * events and its results are there at once, so both ways of answering treat it like a live one. A live submission
 * whose request is cacheable records what each choice emitted ({@link #recordDeltas}) for the cache to store.
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

    final String id;
    final long created;
    final ServedModel model;
    final int n;
    final List<GenerationHandle> handles = new ArrayList<>();
    /** Prompt token count per prompt. */
    final List<Integer> promptTokens = new ArrayList<>();
    /** The prompt texts, for {@code echo}. */
    final List<String> promptTexts = new ArrayList<>();

    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    /** System.nanoTime() of the first generated token of any choice; 0 until then (time to first token). */
    private volatile long firstTokenNanos;
    /** The resilience fallback that answers this request instead of the routed version, or null. */
    volatile ResilientInference.Fallback fallback;
    /** The output guardrails (stage 6), or null when the request was not guarded. */
    volatile GuardedOutput output;
    /** Runs on the batching thread at each token of a non-streamed submission; must not block. */
    private volatile Runnable progressHook;
    /** What the response cache said about this request (null: not consulted). */
    ResponseCache.Lookup cacheLookup;
    /** The results of a submission answered from the cache; null for a live one. */
    private List<GenerationResult> replayed;
    /** Per prompt, per choice: the deltas emitted, when recording for the cache; else null. */
    private List<List<List<CachedGeneration.Delta>>> recorded;
    /** A streamed submission's place among the server's open streams (null for a plain answer). */
    volatile OpenStreams.Stream stream;
    /** What the request holds until its answer is written (the key's concurrent-requests slot, the stream slot). */
    private final List<Runnable> heldUntilAnswered = new java.util.concurrent.CopyOnWriteArrayList<>();

    private final java.util.concurrent.atomic.AtomicBoolean answered = new java.util.concurrent.atomic.AtomicBoolean();

    Submission(String id, ServedModel model, int n) {
        this.id = id;
        this.created = System.currentTimeMillis() / 1000;
        this.model = model;
        this.n = n;
    }

    /**
     * Registers the next prompt's handle. With {@code streamEvents} its events go to the queue with choice
     * indexes shifted; otherwise only its final result is used.
     */
    void add(GenerationHandle handle, String promptText, boolean streamEvents) {
        int prompt = handles.size();
        int offset = prompt * n;
        handles.add(handle);
        promptTokens.add(handle.promptTokens());
        promptTexts.add(promptText);
        List<List<CachedGeneration.Delta>> record = null;
        if (recorded != null) {
            record = new ArrayList<>(n);
            for (int i = 0; i < n; i++) record.add(new ArrayList<>());
            recorded.add(record);
        }
        List<List<CachedGeneration.Delta>> deltas = record;
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
    long firstTokenNanos() {
        return firstTokenNanos;
    }

    /**
     * A submission answered from the cache: the events of {@code generation} are queued as a live generation
     * would have sent them (each choice's deltas, its finish, then each prompt's completion) and its results are
     * complete.
     */
    static Submission replay(
            String id,
            ServedModel model,
            int n,
            List<String> promptTexts,
            CachedGeneration generation,
            boolean logprobs,
            ResponseCache.Lookup lookup) {
        Submission s = new Submission(id, model, n);
        s.cacheLookup = lookup;
        List<GenerationResult> results = new ArrayList<>();
        for (int p = 0; p < generation.prompts().size(); p++) {
            CachedGeneration.Prompt prompt = generation.prompts().get(p);
            s.promptTokens.add(prompt.promptTokens());
            s.promptTexts.add(promptTexts.get(p));
            GenerationResult result = prompt.toResult(id, model, logprobs);
            for (CachedGeneration.Choice c : prompt.choices()) {
                int index = p * n + c.index();
                for (CachedGeneration.Delta d : c.deltas()) {
                    s.events.offer(new Event.Delta(index, d.text(), logprobs ? d.logprob() : null));
                }
                s.events.offer(new Event.Finish(index, c.finishReason()));
            }
            s.events.offer(new Event.Complete(p, result));
            results.add(result);
        }
        s.replayed = List.copyOf(results);
        return s;
    }

    /** {@code release} runs once, when the answer has been written or can no longer be ({@link #answered()}). */
    void holdUntilAnswered(Runnable release) {
        heldUntilAnswered.add(release);
        if (answered.get()) release.run(); // answered before the hold was registered: give it back at once
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

    /** From now on, records what each choice of each added prompt emits (call before the first {@link #add}). */
    void recordDeltas() {
        if (!handles.isEmpty())
            throw new IllegalStateException("recording must start before the first prompt is added");
        recorded = new ArrayList<>();
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
                    result.usage().promptTokens(), result.usage().completionTokens(), choices));
        }
        return new CachedGeneration(prompts);
    }

    int choices() {
        return promptTokens.size() * n;
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
