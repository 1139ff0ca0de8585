package dev.anvil.serving;

import dev.anvil.engine.Generation;
import dev.anvil.engine.Sampler;
import dev.anvil.engine.Scheduler;
import dev.anvil.engine.SequenceListener;
import dev.anvil.engine.SequenceOutcome;
import dev.anvil.engine.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A running request returned by {@link InferenceService#submit}: its events, its final result, and cancellation.
 *
 * <p>Events that happen before a listener is registered are kept and replayed to it (on the registering
 * thread) when it is, so registering right after {@code submit} never misses a token. After that, events
 * arrive on the model's batching thread: see {@link GenerationListener} for what that implies.
 */
public final class GenerationHandle {

    private static final Logger LOG = Logger.getLogger(GenerationHandle.class.getName());

    private final String requestId;
    private final ServedModel model;
    private final int promptTokens;
    private final Integer logprobs;
    private final RequestObserver observer;
    private final CompletableFuture<GenerationResult> result = new CompletableFuture<>();
    private final ChoiceState[] choices;
    private final List<Scheduler.SequenceHandle> sequences = new ArrayList<>();

    /**
     * When the generation reached each phase ({@link System#nanoTime()}; 0 until it did): made (submitted), first
     * choice admitted to the batch (its queue wait over), first token (its prefill over), last choice finished.
     */
    public record Timings(long submittedNanos, long admittedNanos, long firstTokenNanos, long finishedNanos) {}

    private final long submittedNanos = System.nanoTime();
    private volatile long admittedNanos, firstTokenNanos, finishedNanos;

    // Guarded by this: the listener and the events buffered before it came.
    private GenerationListener listener;
    private List<Runnable> buffered = new ArrayList<>();
    private int unfinished;
    private boolean failed;

    GenerationHandle(
            String requestId, ServedModel model, int promptTokens, int n, Integer logprobs, RequestObserver observer) {
        this.requestId = requestId;
        this.model = model;
        this.promptTokens = promptTokens;
        this.logprobs = logprobs;
        this.observer = observer;
        this.choices = new ChoiceState[n];
        for (int i = 0; i < n; i++) choices[i] = new ChoiceState(i);
        this.unfinished = n;
    }

    /**
     * A handle that is already finished: each of its {@code n} choices is {@code text} (with {@code tokens} as its
     * tokens), ended with {@link FinishReason#STOP}. Its events are replayed to the listener like a generation's.
     * Used for a deterministic answer that involves no model (the resilience fallback message).
     */
    public static GenerationHandle completed(
            String requestId, ServedModel model, int promptTokens, int n, String text, int[] tokens) {
        GenerationHandle h = new GenerationHandle(requestId, model, promptTokens, n, null, NO_OBSERVER);
        for (ChoiceState c : h.choices) {
            c.text.append(text);
            for (int t : tokens) c.tokens.add(t);
            c.reason = FinishReason.STOP;
            int index = c.index;
            if (!text.isEmpty()) h.dispatch(() -> h.listener.onDelta(index, text, null));
            h.dispatch(() -> h.listener.onFinish(index, FinishReason.STOP));
            h.choiceFinished();
        }
        return h;
    }

    /** Observes nothing: a {@link #completed} handle is not a generation and stays out of the serving metrics. */
    private static final RequestObserver NO_OBSERVER = new RequestObserver() {
        @Override
        public void token(int choice) {}

        @Override
        public void completed(GenerationResult result) {}

        @Override
        public void failed(Throwable error) {}
    };

    public String requestId() {
        return requestId;
    }

    /** The model version serving this request (fixed at submission, even if a new version is promoted meanwhile). */
    public ServedModel model() {
        return model;
    }

    /** Tokens of the prompt. */
    public int promptTokens() {
        return promptTokens;
    }

    /** Number of choices. */
    public int n() {
        return choices.length;
    }

    /**
     * Registers the (single) listener. Events so far are replayed to it immediately on this thread.
     *
     * @throws IllegalStateException if a listener was already registered
     */
    public void listen(GenerationListener l) {
        if (l == null) throw new IllegalArgumentException("listener is null");
        List<Runnable> replay;
        synchronized (this) {
            if (listener != null)
                throw new IllegalStateException("a listener is already registered for request " + requestId);
            listener = l;
            replay = buffered;
            buffered = null;
            // Replay while holding the lock so a concurrent event cannot overtake the buffered ones.
            for (Runnable r : replay) safely(r);
        }
    }

    /**
     * Cancels every choice that has not finished: at the next batching step they leave the batch and free their
     * cache; each gets {@link GenerationListener#onFinish} with {@link FinishReason#CANCELLED}, and the result
     * completes normally with that reason. Any thread; idempotent.
     */
    public void cancel() {
        List<Scheduler.SequenceHandle> all;
        synchronized (sequences) {
            all = List.copyOf(sequences);
        }
        for (Scheduler.SequenceHandle h : all) h.cancel();
    }

    /** Completes with the result once every choice finished; completes exceptionally if the request failed. */
    public CompletionStage<GenerationResult> result() {
        return result.minimalCompletionStage();
    }

    /**
     * Blocks until the result is there (for non-streaming callers that run on their own thread).
     *
     * @throws TimeoutException     if it is not there within {@code timeout} (the request keeps running; cancel it)
     * @throws ExecutionException   if the request failed (cause: the error)
     */
    public GenerationResult await(Duration timeout) throws InterruptedException, ExecutionException, TimeoutException {
        return result.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** When this generation reached each phase so far (the request's tracing spans are drawn from these). */
    public Timings timings() {
        return new Timings(submittedNanos, admittedNanos, firstTokenNanos, finishedNanos);
    }

    public boolean isDone() {
        return result.isDone();
    }

    // ------------------------------------------------------------------------------------------------
    // Wiring (package-private): InferenceService creates the handle, then one sequence per choice.

    void addSequence(Scheduler.SequenceHandle h) {
        synchronized (sequences) {
            sequences.add(h);
        }
    }

    SequenceListener choiceListener(int index, Tokenizer tokenizer) {
        return new ChoiceListener(choices[index], tokenizer);
    }

    /** Submission of some choices failed after others were queued: cancel those and fail the request. */
    void abandon(Throwable error) {
        cancel();
        fail(error);
    }

    private void dispatch(Runnable event) {
        // Under the lock so that a replay in progress on the registering thread is never overtaken; listeners
        // return quickly by contract, so the batching thread waits at most for that short replay.
        synchronized (this) {
            if (listener == null) buffered.add(event);
            else safely(event);
        }
    }

    private void safely(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "generation listener of request " + requestId + " failed", e);
        }
    }

    private void fail(Throwable error) {
        synchronized (this) {
            if (failed || result.isDone()) return;
            failed = true;
        }
        observer.failed(error);
        dispatch(() -> listener.onError(error));
        result.completeExceptionally(error);
    }

    private void choiceFinished() {
        boolean all;
        synchronized (this) {
            all = --unfinished == 0 && !failed;
        }
        if (!all) return;
        List<GenerationResult.Choice> list = new ArrayList<>();
        int completion = 0, cached = Integer.MAX_VALUE;
        for (ChoiceState c : choices) {
            list.add(c.toChoice());
            completion += c.tokens.size();
            cached = Math.min(cached, c.cachedTokens);
        }
        finishedNanos = System.nanoTime();
        GenerationResult r =
                new GenerationResult(requestId, model, List.copyOf(list), new Usage(promptTokens, completion, cached));
        observer.completed(r);
        dispatch(() -> listener.onComplete(r));
        result.complete(r);
    }

    private final class ChoiceState {
        final int index;
        final StringBuilder text = new StringBuilder();
        final List<Integer> tokens = new ArrayList<>();
        final List<TokenLogprob> logprobList = logprobs == null ? null : new ArrayList<>();
        FinishReason reason;
        /** Prompt tokens this choice's sequence found in the prefix cache. */
        int cachedTokens;
        /** Sum and count of the emitted tokens' log-probabilities (for the mean). */
        double logprobSum;

        int sampled;

        ChoiceState(int index) {
            this.index = index;
        }

        GenerationResult.Choice toChoice() {
            int[] ids = tokens.stream().mapToInt(Integer::intValue).toArray();
            return new GenerationResult.Choice(
                    index,
                    text.toString(),
                    ids,
                    reason,
                    logprobList == null ? null : List.copyOf(logprobList),
                    sampled == 0 ? Double.NaN : logprobSum / sampled);
        }
    }

    private final class ChoiceListener implements SequenceListener {
        private final ChoiceState state;
        private final Tokenizer tokenizer;

        ChoiceListener(ChoiceState state, Tokenizer tokenizer) {
            this.state = state;
            this.tokenizer = tokenizer;
        }

        @Override
        public void onAdmitted() {
            if (admittedNanos == 0) admittedNanos = System.nanoTime();
        }

        @Override
        public void onPrefixCacheLookup(int promptTokens, int cachedTokens) {
            observer.prefixCacheLookup(promptTokens, cachedTokens);
        }

        @Override
        public void onToken(Generation.Step step) {
            if (firstTokenNanos == 0) firstTokenNanos = System.nanoTime();
            observer.token(state.index);
            state.tokens.add(step.token());
            // An end-of-sequence token is counted but, like its text, not reported as output (a grammar's last token,
            // finish GRAMMAR, is output).
            boolean endToken = step.finish() == Generation.FinishReason.END_OF_SEQUENCE;
            TokenLogprob lp = logprobs != null && !endToken && step.sample() != null ? logprob(step.sample()) : null;
            if (lp != null) state.logprobList.add(lp);
            if (!endToken && step.sample() != null) {
                state.logprobSum += step.sample().logprob();
                state.sampled++;
            }
            String text = step.text();
            state.text.append(text);
            if (!text.isEmpty() || lp != null) dispatch(() -> listener.onDelta(state.index, text, lp));
        }

        @Override
        public void onFinish(SequenceOutcome outcome) {
            state.cachedTokens = outcome.cachedTokens();
            state.reason = outcome.cancelled()
                    ? FinishReason.CANCELLED
                    : outcome.reason() == Generation.FinishReason.MAX_TOKENS ? FinishReason.LENGTH : FinishReason.STOP;
            FinishReason reason = state.reason;
            dispatch(() -> listener.onFinish(state.index, reason));
            choiceFinished();
        }

        @Override
        public void onError(Throwable error) {
            cancel(); // the other choices of the request are useless now
            fail(error);
        }

        private TokenLogprob logprob(Sampler.SampledToken s) {
            List<TokenLogprob.Alternative> top = new ArrayList<>(s.topTokens().length);
            for (int i = 0; i < s.topTokens().length; i++) {
                int id = s.topTokens()[i];
                byte[] b = tokenizer.tokenBytes(id);
                top.add(new TokenLogprob.Alternative(id, new String(b, StandardCharsets.UTF_8), b, s.topLogprobs()[i]));
            }
            byte[] bytes = tokenizer.tokenBytes(s.token());
            return new TokenLogprob(
                    s.token(), new String(bytes, StandardCharsets.UTF_8), bytes, s.logprob(), List.copyOf(top));
        }
    }

    /** Per-request hooks for metrics, called on the batching thread. */
    interface RequestObserver {
        /** A choice's sequence was admitted and its prompt looked up in the prefix cache (when it is on). */
        default void prefixCacheLookup(int promptTokens, int cachedTokens) {}

        void token(int choice);

        void completed(GenerationResult result);

        void failed(Throwable error);
    }
}
