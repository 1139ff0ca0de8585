package dev.anvil.engine;

import dev.anvil.engine.Scheduler.Seq;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.ToIntFunction;

/**
 * The sequences of one {@link Scheduler}, waiting and running, and the priority rules between them:
 *
 * <ul>
 *   <li>admission: the first waiting NORMAL sequence, first come first served (the head is never overtaken); a LOW
 *       one (a shadow copy nobody waits for) only when no NORMAL sequence waits;
 *   <li>running order: every NORMAL sequence before every LOW one, each group in admission order, so that the
 *       preemption victim, the last running sequence, is a LOW one while there is one;
 *   <li>a preempted sequence goes back to the front of the queue;
 *   <li>back-pressure: LOW sequences never count against NORMAL submissions, while LOW submissions count everything
 *       ahead of them; preempted sequences (already accepted once) count against nobody.
 * </ul>
 *
 * <p>Threading: the waiting queue is shared with submitters and cancellers and is guarded by the scheduler's lock
 * (every waiting-side method takes it; it is reentrant, so the scheduler may already hold it). The running list is
 * the stepping thread's alone.
 */
final class SequenceQueue {

    private final ReentrantLock lock;
    private final ArrayDeque<Seq> waiting = new ArrayDeque<>();
    private final List<Seq> running = new ArrayList<>();

    SequenceQueue(ReentrantLock lock) {
        this.lock = lock;
    }

    // ---- waiting (any thread, under the lock) -----------------------------------------------------

    /** Waiting sequences that count against a new submission of this priority (see the back-pressure rule). */
    long waitingAhead(boolean low) {
        lock.lock();
        try {
            return waiting.stream()
                    .filter(s -> s.preemptions == 0 && (low || !s.low()))
                    .count();
        } finally {
            lock.unlock();
        }
    }

    void enqueue(Seq s) {
        lock.lock();
        try {
            waiting.addLast(s);
        } finally {
            lock.unlock();
        }
    }

    int waitingCount() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    /** The first waiting NORMAL sequence, or null: the one that may preempt running LOW sequences to get in. */
    Seq firstWaitingNormal() {
        lock.lock();
        try {
            for (Seq s : waiting) if (!s.low()) return s;
            return null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Removes and returns the sequence to admit next if it fits in {@code freeBlocks}, a sequence {@code s} taking
     * {@code blocksToAdmit(s)} blocks; null when none waits or the next one does not fit (it is not overtaken).
     */
    Seq pollAdmissible(int freeBlocks, ToIntFunction<Seq> blocksToAdmit) {
        lock.lock();
        try {
            Seq next = nextToAdmit();
            if (next == null || blocksToAdmit.applyAsInt(next) > freeBlocks) return null;
            waiting.remove(next);
            return next;
        } finally {
            lock.unlock();
        }
    }

    /** The first NORMAL waiting sequence (first come, first served); a LOW one only when no NORMAL one waits. */
    private Seq nextToAdmit() {
        Seq firstLow = null;
        for (Seq s : waiting) {
            if (!s.low()) return s;
            if (firstLow == null) firstLow = s;
        }
        return firstLow;
    }

    /** Takes the waiting sequences whose cancellation was requested. */
    List<Seq> removeCancelledWaiting() {
        List<Seq> cancelled = new ArrayList<>();
        lock.lock();
        try {
            for (Iterator<Seq> it = waiting.iterator(); it.hasNext(); ) {
                Seq s = it.next();
                if (s.cancelRequested) {
                    it.remove();
                    cancelled.add(s);
                }
            }
        } finally {
            lock.unlock();
        }
        return cancelled;
    }

    // ---- running (the stepping thread) ------------------------------------------------------------

    /** The running sequences in running order (NORMAL first, then LOW, each in admission order); do not modify. */
    List<Seq> running() {
        return running;
    }

    int runningCount() {
        return running.size();
    }

    /** Adds an admitted sequence at its place in the running order. */
    void addRunning(Seq s) {
        if (s.low()) {
            running.add(s);
            return;
        }
        int at = running.size();
        while (at > 0 && running.get(at - 1).low()) at--;
        running.add(at, s);
    }

    void removeRunning(Seq s) {
        running.remove(s);
    }

    /** Who is preempted when blocks run out: the most recently admitted running sequence, LOW ones first. */
    Seq preemptionVictim() {
        return running.isEmpty() ? null : running.get(running.size() - 1);
    }

    /** Moves a running sequence back to the front of the queue (its blocks already freed by the caller). */
    void requeuePreempted(Seq s) {
        running.remove(s);
        lock.lock();
        try {
            waiting.addFirst(s);
        } finally {
            lock.unlock();
        }
    }

    /** Takes the running sequences whose cancellation was requested. */
    List<Seq> removeCancelledRunning() {
        List<Seq> cancelled = new ArrayList<>();
        for (Iterator<Seq> it = running.iterator(); it.hasNext(); ) {
            Seq s = it.next();
            if (s.cancelRequested) {
                it.remove();
                cancelled.add(s);
            }
        }
        return cancelled;
    }

    /** Empties both lists and returns what they held, running first (for a scheduler that stops). */
    List<Seq> removeAll() {
        List<Seq> all = new ArrayList<>(running);
        running.clear();
        lock.lock();
        try {
            all.addAll(waiting);
            waiting.clear();
        } finally {
            lock.unlock();
        }
        return all;
    }
}
