package dev.anvil.engine;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of compute threads for the data-parallel loops of the forward pass (matmul rows, attention
 * heads). The threads come from a caller-supplied {@link ThreadFactory}: the application server passes its
 * {@code ManagedThreadFactory} so the threads are container-managed; the CLI uses {@link #defaultFactory()}.
 *
 * <p>One forward pass issues a few hundred short parallel loops, so dispatch cost matters more than
 * generality. Threads claim chunks of a loop through one atomic word holding the loop's generation and the
 * next unclaimed index; the caller claims chunks too and then waits only for chunks that were actually
 * claimed. So a worker that is descheduled (a busy or shared machine) never stalls a loop: the others simply
 * take its share, and when it wakes up late its stale claim fails harmlessly. Chunks are guided: each claim
 * takes {@code 1/threads} of what is left (at least the loop's minimum), so a loop starts with long contiguous
 * runs (a weight-streaming matmul reads fastest that way: the hardware prefetcher stays ahead; eight equal
 * chunks per loop measured 30 % slower for one-token decode) and ends with small ones (a thread that falls
 * behind leaves little for the others to wait on). Idle workers spin briefly (the next loop usually follows within microseconds) and then park.
 * Not re-entrant: one loop at a time, which the engine guarantees by running one forward pass at a time per
 * model.
 */
public final class ComputePool implements AutoCloseable {

    /** Body of a parallel loop over {@code [start, end)}; {@code worker} indexes per-thread scratch space. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end, int worker);
    }

    private static final int SPIN_ITERATIONS = 2_000;
    /**
     * How long an idle worker spins before it parks. A parked worker costs the next loop a wake-up (tens of
     * microseconds on a virtual machine, while the caller runs chunks alone), and the serial stretches between
     * the loops of a forward pass and between decode steps are mostly shorter than this; a worker of an idle model
     * parks after it and burns nothing.
     */
    private static final long SPIN_NANOS = 200_000;

    /** One parallel loop; immutable apart from its count of finished indexes. */
    private record Job(
            long generation, RangeBody body, int total, int minChunk, int divisor, AtomicInteger completed) {}

    private final Thread[] threads;
    private final int size;
    private volatile boolean closed;
    private volatile Job current;
    /** (generation << 32) | next unclaimed index of the current job. */
    private final AtomicLong claims = new AtomicLong();

    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private long generation;

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
    public int size() {
        return size;
    }

    /**
     * Runs {@code body} over {@code [0, n)} in guided chunks of at least {@code minChunk} indexes (the last one may
     * be shorter); returns when all are done.
     */
    public void parallelFor(int n, int minChunk, RangeBody body) {
        if (n <= 0) return;
        int min = Math.max(1, minChunk);
        if (size == 1 || n <= min) {
            body.run(0, n, 0);
            return;
        }
        if (closed) throw new IllegalStateException("compute pool is closed");
        Job job = new Job(++generation, body, n, min, size, new AtomicInteger());
        failure.set(null);
        claims.set(job.generation << 32); // before publishing the job: a worker that sees the job sees its claims
        current = job;
        for (Thread t : threads) LockSupport.unpark(t);
        runChunks(job, 0);
        int spins = 0;
        while (job.completed.get() != n) {
            if (++spins < SPIN_ITERATIONS * 10) Thread.onSpinWait();
            else Thread.yield();
        }
        Throwable f = failure.get();
        if (f != null) {
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error e) throw e;
            throw new IllegalStateException(f);
        }
    }

    private void runChunks(Job job, int worker) {
        while (true) {
            long c = claims.get();
            if ((c >>> 32) != job.generation) return; // a newer loop started: this job is finished
            int start = (int) c;
            int left = job.total - start;
            if (left <= 0) return;
            int chunk = Math.min(left, Math.max(job.minChunk, (left + job.divisor - 1) / job.divisor));
            if (!claims.compareAndSet(c, c + chunk)) continue;
            try {
                job.body.run(start, start + chunk, worker);
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            } finally {
                job.completed.addAndGet(chunk);
            }
        }
    }

    private void workerLoop(int worker) {
        long seen = 0;
        while (!closed) {
            Job job = current;
            if (job != null && job.generation != seen) {
                seen = job.generation;
                runChunks(job, worker);
                continue;
            }
            long idleSince = System.nanoTime();
            int spins = 0;
            while (!closed && (current == null || current.generation == seen)) {
                // Parked until parallelFor or close unparks it: both publish first and unpark after, and a permit
                // given before the park makes it return at once, so no wake-up is lost (a timed park here woke
                // every idle worker of every loaded model 1000 times a second, preempting the busy model's threads).
                if ((++spins & 63) != 0 || System.nanoTime() - idleSince < SPIN_NANOS) Thread.onSpinWait();
                else LockSupport.park(this);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : threads) LockSupport.unpark(t);
    }
}
