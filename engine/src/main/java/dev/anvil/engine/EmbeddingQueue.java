package dev.anvil.engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Batching for a {@link BertEncoder}, as {@link Scheduler} is for a decoder: requests (each one or more inputs) wait
 * in a bounded queue; one loop ({@link #run}, on a thread of the caller's choosing) takes waiting work while it fits
 * in {@code maxBatchTokens} and runs it as one {@link BertEncoder#embed} forward pass, so concurrent requests share
 * each weight read. A request whose inputs hold more than {@code maxBatchTokens} tokens is cut, between inputs, into
 * pieces that each fit (a single input longer than that runs alone), so the activations of one pass stay bounded;
 * whatever batch an input lands in, its embedding is the same (the encoder is batch invariant).
 *
 * <p>Thread-safe: {@link #submit} from any thread, {@link #run} on one.
 */
public final class EmbeddingQueue implements AutoCloseable {

    /**
     * @param maxQueue       requests that may wait; more is {@link SubmissionRejectedException.Reason#OVERLOADED}
     * @param maxBatchTokens tokens of one forward pass (a single larger request still runs, alone)
     */
    public record Config(int maxQueue, int maxBatchTokens) {
        public Config {
            if (maxQueue < 1 || maxBatchTokens < 1)
                throw new IllegalArgumentException("maxQueue and maxBatchTokens must be positive");
        }
    }

    /** Counters since the queue was made, for metrics. */
    public record Stats(int waiting, long passes, long inputs, long tokens) {}

    /** Consecutive inputs of one request; {@code last}: the request's final piece. */
    private record Pending(List<int[]> inputs, int tokens, CompletableFuture<float[][]> result, boolean last) {}

    private final BertEncoder encoder;
    private final Config config;
    private final ArrayDeque<Pending> waiting = new ArrayDeque<>();
    private boolean closed, draining, running;
    /** Requests with a piece still waiting: what {@code maxQueue} bounds. */
    private int waitingRequests;

    private long passes, inputsDone, tokensDone;

    public EmbeddingQueue(BertEncoder encoder, Config config) {
        this.encoder = encoder;
        this.config = config;
    }

    public BertEncoder encoder() {
        return encoder;
    }

    /**
     * Queues the inputs (token ids as {@link BertEncoder#tokenize} makes them) of one request; the future completes
     * with their pooled, unnormalized embeddings in input order, or exceptionally if the pass fails or the queue is
     * closed first. It completes on the loop's thread: dependent stages must not block (hand the work to an executor
     * of your own, e.g. {@code whenCompleteAsync}), or every later request of the model waits for them.
     *
     * @throws SubmissionRejectedException OVERLOADED when {@code maxQueue} requests wait, CLOSED when draining or
     *                                     closed, INVALID for no inputs
     */
    public CompletableFuture<float[][]> submit(List<int[]> inputs) {
        if (inputs.isEmpty())
            throw new SubmissionRejectedException(SubmissionRejectedException.Reason.INVALID, "no inputs", 0);
        List<Pending> pieces = new ArrayList<>();
        int from = 0, tokens = 0;
        for (int i = 0; i < inputs.size(); i++) {
            int n = inputs.get(i).length;
            if (i > from && tokens + n > config.maxBatchTokens()) {
                pieces.add(new Pending(List.copyOf(inputs.subList(from, i)), tokens, new CompletableFuture<>(), false));
                from = i;
                tokens = 0;
            }
            tokens += n;
        }
        pieces.add(
                new Pending(List.copyOf(inputs.subList(from, inputs.size())), tokens, new CompletableFuture<>(), true));
        synchronized (this) {
            if (closed || draining)
                throw new SubmissionRejectedException(
                        SubmissionRejectedException.Reason.CLOSED, "the model is being unloaded", 1);
            if (waitingRequests >= config.maxQueue())
                throw new SubmissionRejectedException(
                        SubmissionRejectedException.Reason.OVERLOADED,
                        config.maxQueue() + " embedding requests are waiting",
                        1);
            waiting.addAll(pieces);
            waitingRequests++;
            notifyAll();
        }
        if (pieces.size() == 1) return pieces.get(0).result();
        // The pieces in order, as one result; the first failure fails the request.
        CompletableFuture<float[][]> all = CompletableFuture.completedFuture(new float[0][]);
        for (Pending p : pieces) {
            all = all.thenCombine(p.result(), (a, b) -> {
                float[][] joined = java.util.Arrays.copyOf(a, a.length + b.length);
                System.arraycopy(b, 0, joined, a.length, b.length);
                return joined;
            });
        }
        return all;
    }

    /**
     * The loop: waits for requests and runs them in batches until {@link #close}, or until {@link #drain} and
     * nothing is left. Fails what still waits when it ends.
     */
    public void run() {
        while (true) {
            List<Pending> batch = new ArrayList<>();
            synchronized (this) {
                while (waiting.isEmpty() && !closed && !draining) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        closed = true;
                    }
                }
                if (closed || waiting.isEmpty()) break;
                int tokens = 0;
                while (!waiting.isEmpty()
                        && (batch.isEmpty() || tokens + waiting.peek().tokens() <= config.maxBatchTokens())) {
                    Pending p = waiting.poll();
                    if (p.last()) waitingRequests--;
                    tokens += p.tokens();
                    batch.add(p);
                }
                running = true;
            }
            runBatch(batch);
            synchronized (this) {
                running = false;
                notifyAll();
            }
        }
        List<Pending> left;
        synchronized (this) {
            closed = true;
            left = new ArrayList<>(waiting);
            waiting.clear();
            waitingRequests = 0;
            notifyAll();
        }
        for (Pending p : left)
            p.result()
                    .completeExceptionally(new SubmissionRejectedException(
                            SubmissionRejectedException.Reason.CLOSED, "the model was unloaded", 1));
    }

    private void runBatch(List<Pending> batch) {
        List<int[]> all = new ArrayList<>();
        for (Pending p : batch) all.addAll(p.inputs());
        float[][] out;
        try {
            out = encoder.embed(all);
        } catch (RuntimeException | Error e) {
            // One bad request must not fail the others: retry each on its own.
            if (batch.size() > 1) {
                for (Pending p : batch) runBatch(List.of(p));
            } else {
                batch.get(0).result().completeExceptionally(e);
            }
            return;
        }
        long tokens = 0;
        for (Pending p : batch) tokens += p.tokens();
        synchronized (this) { // counted before anyone hears of the results
            passes++;
            inputsDone += all.size();
            tokensDone += tokens;
        }
        int at = 0;
        for (Pending p : batch) {
            float[][] mine = new float[p.inputs().size()][];
            System.arraycopy(out, at, mine, 0, mine.length);
            at += mine.length;
            p.result().complete(mine);
        }
    }

    /** Refuses new requests; the loop finishes those waiting (up to {@code timeout}) and then ends. */
    public void drain(long timeout, TimeUnit unit) {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (this) {
            draining = true;
            notifyAll();
            while ((!waiting.isEmpty() || running) && !closed) {
                long left = deadline - System.nanoTime();
                if (left <= 0) break;
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            closed = true;
            notifyAll();
        }
    }

    /** Nothing waiting or running. */
    public synchronized boolean isIdle() {
        return waiting.isEmpty() && !running;
    }

    public synchronized Stats stats() {
        return new Stats(waitingRequests, passes, inputsDone, tokensDone);
    }

    /** Ends the loop: what waits fails with CLOSED (a pass in progress finishes). */
    @Override
    public synchronized void close() {
        closed = true;
        notifyAll();
    }
}
