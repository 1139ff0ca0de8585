package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.anvil.engine.Scheduler.Seq;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;

/** The priority rules between waiting and running sequences, without a model. */
class SequenceQueueTest {

    private final SequenceQueue queue = new SequenceQueue(new ReentrantLock());
    private long ids;

    private Seq seq(SequenceRequest.Priority priority, int promptTokens) {
        SequenceRequest request =
                new SequenceRequest(new int[promptTokens], SamplingParams.GREEDY, 8, List.of(), priority);
        return new Seq(++ids, request, null, null, null);
    }

    private Seq normal() {
        return seq(SequenceRequest.Priority.NORMAL, 4);
    }

    private Seq low() {
        return seq(SequenceRequest.Priority.LOW, 4);
    }

    @Test
    void normalSequencesAreAdmittedFirstComeFirstServedAheadOfLowOnes() {
        Seq low1 = low(), normal1 = normal(), low2 = low(), normal2 = normal();
        for (Seq s : List.of(low1, normal1, low2, normal2)) queue.enqueue(s);
        assertSame(normal1, queue.pollAdmissible(100, s -> KvCachePool.blocksFor(s.tokenCount)));
        assertSame(normal2, queue.pollAdmissible(100, s -> KvCachePool.blocksFor(s.tokenCount)));
        assertSame(
                low1,
                queue.pollAdmissible(100, s -> KvCachePool.blocksFor(s.tokenCount)),
                "LOW ones only once no NORMAL one waits, in arrival order");
        assertSame(low2, queue.pollAdmissible(100, s -> KvCachePool.blocksFor(s.tokenCount)));
        assertNull(queue.pollAdmissible(100, s -> KvCachePool.blocksFor(s.tokenCount)));
    }

    @Test
    void theHeadThatDoesNotFitIsNotOvertaken() {
        Seq big = seq(SequenceRequest.Priority.NORMAL, 40 * 16), small = normal();
        queue.enqueue(big);
        queue.enqueue(small);
        assertNull(
                queue.pollAdmissible(1, s -> KvCachePool.blocksFor(s.tokenCount)),
                "the head needs more blocks than are free: nobody is admitted");
        assertSame(big, queue.firstWaitingNormal());
        assertEquals(2, queue.waitingCount());
        assertSame(big, queue.pollAdmissible(KvCachePool.blocksFor(40 * 16), s -> KvCachePool.blocksFor(s.tokenCount)));
    }

    @Test
    void runningNormalSequencesStayAheadOfLowOnesSoTheVictimIsLow() {
        Seq n1 = normal(), l1 = low(), n2 = normal(), l2 = low();
        queue.addRunning(n1);
        queue.addRunning(l1);
        queue.addRunning(n2);
        queue.addRunning(l2);
        assertEquals(List.of(n1, n2, l1, l2), queue.running());
        assertSame(l2, queue.preemptionVictim(), "the most recently admitted LOW sequence goes first");
        queue.requeuePreempted(l2);
        queue.requeuePreempted(l1);
        assertSame(n2, queue.preemptionVictim(), "with no LOW one left, the most recently admitted NORMAL one");
        assertEquals(List.of(n1, n2), queue.running());
    }

    @Test
    void aPreemptedSequenceGoesBackToTheFrontOfTheQueue() {
        Seq waitingNormal = normal(), running = normal();
        queue.enqueue(waitingNormal);
        queue.addRunning(running);
        queue.requeuePreempted(running);
        assertSame(
                running,
                queue.pollAdmissible(100, s -> KvCachePool.blocksFor(s.tokenCount)),
                "readmitted before the sequences that waited behind it");
        assertSame(waitingNormal, queue.pollAdmissible(100, s -> KvCachePool.blocksFor(s.tokenCount)));
    }

    @Test
    void lowWorkNeverCountsAgainstNormalSubmissionsNorPreemptedAgainstAnyone() {
        Seq n = normal(), l = low(), preempted = normal();
        queue.enqueue(n);
        queue.enqueue(l);
        queue.addRunning(preempted);
        preempted.preemptions++;
        queue.requeuePreempted(preempted);
        assertEquals(1, queue.waitingAhead(false), "a NORMAL submission counts the NORMAL sequence only");
        assertEquals(2, queue.waitingAhead(true), "a LOW submission counts everything ahead of it");
        assertEquals(3, queue.waitingCount());
    }

    @Test
    void cancelledSequencesAreTakenFromBothSides() {
        Seq w1 = normal(), w2 = normal(), r1 = normal(), r2 = low();
        queue.enqueue(w1);
        queue.enqueue(w2);
        queue.addRunning(r1);
        queue.addRunning(r2);
        w2.cancelRequested = true;
        r1.cancelRequested = true;
        assertEquals(List.of(r1), queue.removeCancelledRunning());
        assertEquals(List.of(w2), queue.removeCancelledWaiting());
        assertEquals(List.of(r2, w1), queue.removeAll(), "running first, then waiting");
        assertEquals(0, queue.runningCount());
        assertEquals(0, queue.waitingCount());
    }
}
