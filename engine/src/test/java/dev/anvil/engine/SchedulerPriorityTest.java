package dev.anvil.engine;

import static dev.anvil.engine.SchedulerTest.assertNoBlocksLeaked;
import static dev.anvil.engine.SchedulerTest.assertSameAsSolo;
import static dev.anvil.engine.SchedulerTest.stepUntilDone;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LOW-priority sequences (shadow copies): admitted only with spare capacity, preempted first, never making NORMAL
 * submissions overloaded, and still producing exactly their solo output after preemption.
 */
class SchedulerPriorityTest {

    @BeforeAll
    static void load() throws Exception {
        SchedulerTest.load();
    }

    @AfterAll
    static void close() {
        SchedulerTest.close();
    }

    static SequenceRequest low(String prompt, int maxTokens) {
        SequenceRequest r = SchedulerTest.request(prompt, SamplingParams.GREEDY, maxTokens);
        return new SequenceRequest(
                r.promptTokens(), r.sampling(), r.maxTokens(), r.stop(), SequenceRequest.Priority.LOW);
    }

    static SequenceRequest normal(String prompt, int maxTokens) {
        return SchedulerTest.request(prompt, SamplingParams.GREEDY, maxTokens);
    }

    @Test
    void defaultPriorityIsNormal() {
        assertEquals(
                SequenceRequest.Priority.NORMAL, normal("Once upon a time", 4).priority());
    }

    @Test
    void waitingNormalSequenceIsAdmittedBeforeAnEarlierLowOne() throws Exception {
        // One sequence at a time: whoever is admitted first runs alone.
        Scheduler s = new Scheduler(SchedulerTest.model, new Scheduler.Config(4 << 20, 8, 256, 1));
        SequenceRequest lowReq = low("The little dog", 12);
        SequenceRequest normalReq = normal("Once upon a time", 12);
        SchedulerTest.Recorder lowRec = new SchedulerTest.Recorder();
        SchedulerTest.Recorder normalRec = new SchedulerTest.Recorder();
        s.submit(lowReq, lowRec);
        s.submit(normalReq, normalRec);
        s.step();
        assertEquals(1, normalRec.tokens.size(), "the NORMAL sequence was admitted first although submitted second");
        assertEquals(
                0, lowRec.tokens.size(), "the LOW sequence waits while a NORMAL one is waiting or the batch is full");
        stepUntilDone(s, List.of(normalRec), 200);
        assertFalse(lowRec.done(), "the LOW sequence only starts once the NORMAL one left");
        stepUntilDone(s, List.of(lowRec), 200);
        assertSameAsSolo(normalReq, normalRec);
        assertSameAsSolo(lowReq, lowRec);
        assertNoBlocksLeaked(s);
    }

    @Test
    void runningLowSequenceIsPreemptedForANormalOneAndStillFinishesIdentically() throws Exception {
        Scheduler s = new Scheduler(SchedulerTest.model, new Scheduler.Config(4 << 20, 8, 256, 1));
        SequenceRequest lowReq = low("Lily and Ben went to the park", 40);
        SequenceRequest normalReq = normal("Once upon a time", 10);
        SchedulerTest.Recorder lowRec = new SchedulerTest.Recorder();
        SchedulerTest.Recorder normalRec = new SchedulerTest.Recorder();
        s.submit(lowReq, lowRec);
        for (int i = 0; i < 5; i++) s.step();
        assertEquals(5, lowRec.tokens.size(), "with spare capacity the LOW sequence runs");
        s.submit(normalReq, normalRec);
        s.step();
        assertEquals(1, s.stats().preemptions(), "the LOW sequence made room");
        assertEquals(1, normalRec.tokens.size(), "the NORMAL sequence got in at once");
        assertEquals(5, lowRec.tokens.size());
        stepUntilDone(s, List.of(normalRec, lowRec), 400);
        assertSameAsSolo(normalReq, normalRec);
        assertSameAsSolo(lowReq, lowRec);
        assertNoBlocksLeaked(s);
    }

    @Test
    void kvShortageTakesBlocksFromLowSequencesFirst() throws Exception {
        // Room for about 6 blocks (96 positions): two sequences growing to ~60 positions each cannot both fit.
        Scheduler s = new Scheduler(SchedulerTest.model, new Scheduler.Config(6 * SchedulerTest.blockBytes, 8, 256, 4));
        SequenceRequest normalReq = normal("Once upon a time", 55);
        SequenceRequest lowReq = low("The little dog", 55);
        SchedulerTest.Recorder normalRec = new SchedulerTest.Recorder();
        SchedulerTest.Recorder lowRec = new SchedulerTest.Recorder();
        s.submit(normalReq, normalRec);
        s.submit(lowReq, lowRec);
        s.step();
        assertEquals(2, s.stats().running(), "both fit at first");
        int normalTokensBefore;
        while (s.stats().preemptions() == 0 && !normalRec.done()) s.step();
        assertTrue(s.stats().preemptions() > 0, "the pool ran dry");
        normalTokensBefore = normalRec.tokens.size();
        s.step();
        assertEquals(
                normalTokensBefore + 1,
                normalRec.tokens.size(),
                "the NORMAL sequence kept generating: the LOW one was the victim");
        stepUntilDone(s, List.of(normalRec, lowRec), 1000);
        assertEquals(0, normalRec.outcome.get().preemptions(), "the NORMAL sequence was never preempted");
        assertTrue(lowRec.outcome.get().preemptions() > 0);
        assertSameAsSolo(normalReq, normalRec);
        assertSameAsSolo(lowReq, lowRec);
        assertNoBlocksLeaked(s);
    }

    @Test
    void waitingLowSequencesNeverMakeNormalSubmissionsOverloaded() {
        Scheduler s = new Scheduler(SchedulerTest.model, new Scheduler.Config(4 << 20, 2, 256, 1));
        s.submit(low("The little dog", 4), new SchedulerTest.Recorder());
        s.submit(low("The sun was hot", 4), new SchedulerTest.Recorder());
        SubmissionRejectedException full = assertThrows(
                SubmissionRejectedException.class, () -> s.submit(low("Mom said", 4), new SchedulerTest.Recorder()));
        assertEquals(SubmissionRejectedException.Reason.OVERLOADED, full.reason());
        s.submit(normal("Once upon a time", 4), new SchedulerTest.Recorder());
        s.submit(normal("Sara wanted to", 4), new SchedulerTest.Recorder());
        assertThrows(
                SubmissionRejectedException.class,
                () -> s.submit(normal("There was a cat named", 4), new SchedulerTest.Recorder()),
                "NORMAL submissions are bounded by NORMAL waiting ones");
        s.close();
    }
}
