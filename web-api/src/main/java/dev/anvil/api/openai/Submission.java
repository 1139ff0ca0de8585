package dev.anvil.api.openai;

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
    /** The resilience fallback that answers this request instead of the routed version, or null. */
    volatile ResilientInference.Fallback fallback;
    /** The output guardrails (stage 6), or null when the request was not guarded. */
    volatile GuardedOutput output;
    /** Runs on the batching thread at each token of a non-streamed submission; must not block. */
    private volatile Runnable progressHook;

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
        if (!streamEvents) {
            // Only progress matters: each token is a chance to check that the client still waits for the answer.
            handle.listen(new GenerationListener() {
                @Override
                public void onDelta(int index, String text, TokenLogprob logprob) {
                    Runnable hook = progressHook;
                    if (hook != null) hook.run();
                }
            });
            return;
        }
        handle.listen(new GenerationListener() {
            @Override
            public void onDelta(int index, String text, TokenLogprob logprob) {
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

    int choices() {
        return handles.size() * n;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public int prompts() {
        return handles.size();
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
        List<CompletableFuture<GenerationResult>> futures = handles.stream()
                .map(h -> h.result().toCompletableFuture()).toList();
        return CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new))
                .thenApply(x -> futures.stream().map(CompletableFuture::join).toList());
    }

    int totalPromptTokens() {
        return promptTokens.stream().mapToInt(Integer::intValue).sum();
    }
}
