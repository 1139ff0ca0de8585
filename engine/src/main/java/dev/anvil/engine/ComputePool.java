package dev.anvil.engine;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of compute threads for the data-parallel loops of the forward pass (matmul rows, attention
 * heads). The threads come from a caller-supplied {@link ThreadFactory}: the application server passes its
 * {@code ManagedThreadFactory} so the threads are container-managed; the CLI uses {@link #defaultFactory()}.
 *
 * <p>One forward pass issues a few hundred short parallel loops, so dispatch cost matters more than
 * generality: workers spin briefly on a generation counter (a loop ends within microseconds of the next one
 * starting) and then park, like llama.cpp's thread pool. The calling thread takes part as worker 0. Work is
 * split into many more chunks than threads and handed out through an atomic counter, so a worker that gets
 * descheduled on a shared machine does not stall the whole loop. Not re-entrant: one loop at a time, which
 * the engine guarantees by running one forward pass at a time per model.
 */
public final class ComputePool implements AutoCloseable {

    /** Body of a parallel loop over {@code [start, end)}; {@code worker} indexes per-thread scratch space. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end, int worker);
    }

    private static final int SPIN_ITERATIONS = 20_000;

    private final Thread[] threads;
    private final int size;
    private volatile boolean closed;

    // Current job: published by writing generation last (volatile), read by workers after seeing it change.
    private RangeBody body;
    private int total;
    private int chunk;
    private final AtomicInteger nextChunk = new AtomicInteger();
    private final AtomicInteger pendingWorkers = new AtomicInteger();
    private volatile long generation;
    private volatile Throwable failure;

    /** A pool of {@code threads} workers in total, counting the caller; {@code threads - 1} are created. */
    public ComputePool(int threads, ThreadFactory factory) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, was " + threads);
        this.size = threads;
        this.threads = new Thread[threads - 1];
        for (int i = 0; i < threads - 1; i++) {
            int worker = i + 1;
            Thread t = factory.newThread(() -> workerLoop(worker));
            if (t == null) throw new IllegalStateException("thread factory refused to create compute thread " + worker);
            this.threads[i] = t;
            t.start();
        }
    }

    /** Daemon threads named {@code anvil-compute-N}, for the CLI and tests. */
    public static ThreadFactory defaultFactory() {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, "anvil-compute-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** Number of workers, including the calling thread. */
    public int size() { return size; }

    /** Runs {@code body} over {@code [0, n)} split into chunks of at least {@code minChunk}; returns when all are done. */
    public void parallelFor(int n, int minChunk, RangeBody body) {
        if (n <= 0) return;
        int chunkSize = Math.max(minChunk, (n + size * 4 - 1) / (size * 4));
        if (size == 1 || n <= chunkSize) {
            body.run(0, n, 0);
            return;
        }
        if (closed) throw new IllegalStateException("compute pool is closed");
        this.body = body;
        this.total = n;
        this.chunk = chunkSize;
        this.failure = null;
        nextChunk.set(0);
        pendingWorkers.set(size - 1);
        generation = generation + 1; // publish
        for (Thread t : threads) LockSupport.unpark(t);
        runChunks(0);
        int spins = 0;
        while (pendingWorkers.get() != 0) {
            if (++spins < SPIN_ITERATIONS) Thread.onSpinWait();
            else Thread.yield();
        }
        this.body = null;
        Throwable f = failure;
        if (f != null) {
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error e) throw e;
            throw new IllegalStateException(f);
        }
    }

    private void runChunks(int worker) {
        RangeBody b = body;
        int n = total, c = chunk;
        int i;
        while ((i = nextChunk.getAndIncrement()) * (long) c < n) {
            int start = i * c;
            b.run(start, Math.min(n, start + c), worker);
        }
    }

    private void workerLoop(int worker) {
        long seen = 0;
        while (true) {
            int spins = 0;
            while (generation == seen) {
                if (closed) return;
                if (++spins < SPIN_ITERATIONS) Thread.onSpinWait();
                else LockSupport.parkNanos(this, 1_000_000L);
            }
            seen = generation;
            try {
                runChunks(worker);
            } catch (Throwable t) {
                failure = t;
            } finally {
                pendingWorkers.decrementAndGet();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : threads) LockSupport.unpark(t);
    }
}
