package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The continuous-batching scheduler on the real stories260K model: batched, joined, chunked and preempted
 * sequences must produce exactly the tokens each produces alone, and every KV block must come back.
 */
class SchedulerTest {

    static LlamaModel model;
    static Tokenizer tok;

    /** KV bytes of one block for stories260K; budgets below are written as multiples of it. */
    static long blockBytes;

    @BeforeAll
    static void load() throws Exception {
        Path path = Path.of("..", "models", "stories260K.gguf").toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(path), "the bundled default model is missing at " + path);
        model = LlamaModel.load(path, ComputePool.defaultFactory(), 2);
        tok = model.tokenizer();
        blockBytes = KvCachePool.bytesPerBlock(model.config());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers

    /** Collects one sequence's events. */
    static class Recorder implements SequenceListener {
        final List<Integer> tokens = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        final CompletableFuture<SequenceOutcome> outcome = new CompletableFuture<>();
        volatile Throwable error;
        int tokenEvents;

        @Override
        public void onToken(Generation.Step step) {
            tokens.add(step.token());
            text.append(step.text());
            tokenEvents++;
        }

        @Override
        public void onFinish(SequenceOutcome o) {
            outcome.complete(o);
        }

        @Override
        public void onError(Throwable e) {
            error = e;
            outcome.completeExceptionally(e);
        }

        int[] tokenArray() {
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }

        boolean done() {
            return outcome.isDone();
        }
    }

    /** What a sequence generates when it runs alone, token by token (no scheduler involved). */
    record Solo(int[] tokens, String text, Generation.FinishReason reason) {}

    static Solo solo(SequenceRequest r) throws KvCacheFullException {
        return solo(r, model.newKvCachePool(4 << 20));
    }

    /** Alone in a pool of its own, built by the caller (e.g. with sliding-window layers). */
    static Solo solo(SequenceRequest r, KvCachePool kv) throws KvCacheFullException {
        KvCachePool.Sequence seq = kv.newSequence();
        Generation gen = new Generation(tok, r.promptTokens(), r.sampling(), r.maxTokens(), r.stop());
        kv.reserve(seq, r.promptTokens().length);
        float[] logits =
                model.forward(new Batch().add(seq, 0, r.promptTokens())).logits(0);
        while (true) {
            Generation.Step step = gen.next(logits);
            if (step.finished()) break;
            kv.reserve(seq, seq.length() + 1);
            logits = model.forward(new Batch().add(seq, seq.length(), step.token()))
                    .logits(0);
        }
        kv.free(seq);
        return new Solo(gen.generatedTokens(), gen.text(), gen.finishReason());
    }

    static SequenceRequest request(String prompt, SamplingParams sampling, int maxTokens, String... stop) {
        return new SequenceRequest(tok.encode(prompt, true), sampling, maxTokens, List.of(stop));
    }

    static final String[] PROMPTS = {
        "Once upon a time", "The little dog", "Lily and Ben went to the park", "One day, a big bird",
        "Tom had a red ball. He", "The sun was hot", "Sara wanted to", "There was a cat named",
        "Mom said", "The boy ran to the tree and"
    };

    /** A mix of greedy and seeded sampling, different lengths and a stop string. */
    static List<SequenceRequest> mixedRequests(int count) {
        List<SequenceRequest> list = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            SamplingParams p = i % 3 == 0
                    ? SamplingParams.GREEDY
                    : SamplingParams.DEFAULTS
                            .withTemperature(0.8f)
                            .withTopP(0.95f)
                            .withSeed(1000 + i)
                            .withTopLogprobs(i % 2 == 0 ? 3 : 0);
            int max = 20 + 13 * (i % 5);
            list.add(
                    i == 4
                            ? request(PROMPTS[i % PROMPTS.length], p, max, ".")
                            : request(PROMPTS[i % PROMPTS.length], p, max));
        }
        return list;
    }

    static void stepUntilDone(Scheduler s, List<Recorder> recorders, int maxSteps) {
        for (int i = 0; i < maxSteps; i++) {
            if (recorders.stream().allMatch(Recorder::done)) return;
            s.step();
        }
        throw new AssertionError("sequences did not finish within " + maxSteps + " steps");
    }

    static void assertSameAsSolo(SequenceRequest r, Recorder rec) throws Exception {
        assertSameAsSolo(r, rec, model.newKvCachePool(4 << 20));
    }

    static void assertSameAsSolo(SequenceRequest r, Recorder rec, KvCachePool soloKv) throws Exception {
        Solo expected = solo(r, soloKv);
        assertNull(rec.error, () -> "sequence failed: " + rec.error);
        SequenceOutcome o = rec.outcome.get();
        assertArrayEquals(expected.tokens(), rec.tokenArray(), "tokens differ from the solo run");
        assertEquals(expected.text(), rec.text.toString());
        assertEquals(expected.text(), o.text());
        assertEquals(expected.reason(), o.reason());
        assertEquals(expected.tokens().length, o.generatedTokens());
        assertEquals(r.promptTokens().length, o.promptTokens());
    }

    static void assertNoBlocksLeaked(Scheduler s) {
        KvCachePool kv = s.kvCache();
        assertEquals(kv.totalBlocks(), kv.freeBlocks(), "KV blocks leaked");
        Scheduler.Stats st = s.stats();
        assertEquals(0, st.running());
        assertEquals(0, st.waiting());
        assertEquals(0, st.kvBlocksUsed());
    }

    // ------------------------------------------------------------------------------------------------

    @Test
    void concurrentSequencesGiveExactlyTheirSoloOutput() throws Exception {
        Scheduler s = new Scheduler(model, new Scheduler.Config(8 << 20, 64, 256, 16));
        List<SequenceRequest> requests = mixedRequests(10);
        List<Recorder> recs = new ArrayList<>();
        for (SequenceRequest r : requests) {
            Recorder rec = new Recorder();
            s.submit(r, rec);
            recs.add(rec);
        }
        s.step();
        assertEquals(10, s.stats().running(), "all ten are admitted into one batch");
        stepUntilDone(s, recs, 1000);
        for (int i = 0; i < requests.size(); i++) assertSameAsSolo(requests.get(i), recs.get(i));
        assertEquals(
                Generation.FinishReason.STOP_STRING,
                recs.get(4).outcome.get().reason(),
                "the stop string of request 4 was hit");
        assertNoBlocksLeaked(s);
        assertFalse(s.step(), "nothing left to run");
    }

    @Test
    void topLogprobsComeWithEveryToken() throws Exception {
        Scheduler s = new Scheduler(model, new Scheduler.Config(4 << 20, 8, 64, 4));
        List<Generation.Step> steps = new ArrayList<>();
        Recorder rec = new Recorder() {
            @Override
            public void onToken(Generation.Step step) {
                super.onToken(step);
                steps.add(step);
            }
        };
        s.submit(request("Once upon a time", SamplingParams.GREEDY.withTopLogprobs(5), 10), rec);
        stepUntilDone(s, List.of(rec), 100);
        assertEquals(10, steps.size());
        for (Generation.Step st : steps) {
            assertEquals(5, st.sample().topTokens().length);
            assertEquals(st.token(), st.sample().topTokens()[0], "greedy picks the most likely token");
            assertEquals(st.sample().topLogprobs()[0], st.sample().logprob(), 0f);
            assertTrue(st.sample().logprob() <= 0f);
        }
        assertNoBlocksLeaked(s);
    }

    @Test
    void sequencesJoinAndLeaveWhileOthersRun() throws Exception {
        Scheduler s = new Scheduler(model, new Scheduler.Config(8 << 20, 64, 256, 16));
        List<SequenceRequest> requests = mixedRequests(8);
        List<Recorder> recs = new ArrayList<>();
        int maxRunning = 0;
        boolean joinedWhileRunning = false, leftWhileOthersRan = false;
        int submitted = 0;
        for (int step = 0; step < 2000; step++) {
            // A new sequence every 7 steps, while the earlier ones are mid-generation.
            if (submitted < requests.size() && step % 7 == 0) {
                if (s.stats().running() > 0) joinedWhileRunning = true;
                Recorder rec = new Recorder();
                s.submit(requests.get(submitted++), rec);
                recs.add(rec);
            }
            long doneBefore = recs.stream().filter(Recorder::done).count();
            s.step();
            long doneAfter = recs.stream().filter(Recorder::done).count();
            if (doneAfter > doneBefore && s.stats().running() > 0) leftWhileOthersRan = true;
            maxRunning = Math.max(maxRunning, s.stats().running());
            if (submitted == requests.size() && recs.stream().allMatch(Recorder::done)) break;
        }
        assertTrue(joinedWhileRunning, "sequences joined a running batch");
        assertTrue(leftWhileOthersRan, "sequences left while others kept running");
        assertTrue(maxRunning >= 3, "the batch held several sequences at once, max " + maxRunning);
        for (int i = 0; i < requests.size(); i++) assertSameAsSolo(requests.get(i), recs.get(i));
        assertNoBlocksLeaked(s);
    }

    @Test
    void longPromptIsPrefilledInChunksWhileRunningStreamsKeepFlowing() throws Exception {
        int chunk = 8;
        Scheduler s = new Scheduler(model, new Scheduler.Config(8 << 20, 64, chunk, 16));
        SequenceRequest streaming = request("Once upon a time", SamplingParams.GREEDY, 120);
        Recorder stream = new Recorder();
        s.submit(streaming, stream);
        for (int i = 0; i < 3; i++) s.step(); // the stream is decoding now
        StringBuilder longText = new StringBuilder();
        while (tok.encode(longText.toString(), true).length < 100)
            longText.append("The little girl saw a big red ball in the park. ");
        SequenceRequest longPrompt =
                new SequenceRequest(tok.encode(longText.toString(), true), SamplingParams.GREEDY, 20, List.of());
        int promptLength = longPrompt.promptTokens().length;
        Recorder lp = new Recorder();
        s.submit(longPrompt, lp);
        int expectedChunkSteps = (promptLength + chunk - 1) / chunk;
        long stepsBefore = s.stats().steps();
        int streamTokensBefore = stream.tokenEvents;
        while (lp.tokenEvents == 0) {
            int before = stream.tokenEvents;
            s.step();
            if (!stream.done())
                assertEquals(before + 1, stream.tokenEvents, "the running stream got a token in every step");
        }
        long prefillSteps = s.stats().steps() - stepsBefore;
        assertEquals(
                expectedChunkSteps,
                prefillSteps,
                "a " + promptLength + "-token prompt takes ceil(len/" + chunk + ") steps");
        assertEquals(prefillSteps, stream.tokenEvents - streamTokensBefore);
        stepUntilDone(s, List.of(stream, lp), 1000);
        assertSameAsSolo(streaming, stream);
        assertSameAsSolo(longPrompt, lp);
        assertNoBlocksLeaked(s);
    }

    @Test
    void preemptionUnderATinyKvBudgetStillCompletesEverySequenceIdentically() throws Exception {
        // Room for about two and a half sequences of up to ~90 positions: six sequences must take turns.
        Scheduler s = new Scheduler(model, new Scheduler.Config(14 * blockBytes, 64, 64, 8));
        assertEquals(14, s.kvCache().totalBlocks());
        List<SequenceRequest> requests = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            SamplingParams p = i % 2 == 0
                    ? SamplingParams.GREEDY
                    : SamplingParams.DEFAULTS.withTemperature(0.9f).withSeed(77 + i);
            requests.add(request(PROMPTS[i], p, 80));
        }
        List<Recorder> recs = new ArrayList<>();
        for (SequenceRequest r : requests) {
            Recorder rec = new Recorder();
            s.submit(r, rec);
            recs.add(rec);
        }
        int maxUsed = 0;
        for (int i = 0; i < 5000 && !recs.stream().allMatch(Recorder::done); i++) {
            s.step();
            maxUsed = Math.max(maxUsed, s.stats().kvBlocksUsed());
            assertTrue(s.stats().kvBlocksUsed() <= 14);
        }
        Scheduler.Stats st = s.stats();
        assertTrue(st.preemptions() > 0, "the tiny budget forced preemptions");
        assertTrue(st.recomputedTokens() > 0, "preempted sequences were recomputed");
        assertTrue(recs.stream().anyMatch(r -> r.outcome.join().preemptions() > 0));
        for (int i = 0; i < requests.size(); i++) assertSameAsSolo(requests.get(i), recs.get(i));
        assertEquals(14, maxUsed, "the pool was used to the last block");
        assertNoBlocksLeaked(s);
    }

    @Test
    void slidingWindowReleaseLetsLongSequencesShareABudgetTheyCouldNotShareOtherwise() throws Exception {
        int layers = model.config().layers();
        int[] windows = new int[layers];
        for (int l = 0; l < layers; l++) windows[l] = l % 3 == 2 ? 0 : 32; // stories260K: 1 full, 4 sliding layers
        long budget = 30 * blockBytes; // 150 one-layer units
        // Four sequences of ~205 positions: 13 blocks in each of 5 layers (65 units) each without release, 260 in
        // all; with release a full layer holds 13 blocks and a sliding one at most 3, 25 units each.
        List<SequenceRequest> requests = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            SamplingParams p = i % 2 == 0
                    ? SamplingParams.GREEDY
                    : SamplingParams.DEFAULTS.withTemperature(0.9f).withSeed(500 + i);
            requests.add(request(PROMPTS[i], p, 200));
        }
        int totalGenerated = 0;
        for (SequenceRequest r : requests) {
            Solo alone = solo(r, model.newKvCachePool(budget, windows));
            totalGenerated += alone.tokens().length;
        }
        assertTrue(totalGenerated > 3 * 200, "the sequences run long (" + totalGenerated + " tokens)");

        for (boolean sliding : new boolean[] {true, false}) {
            KvCachePool kv = sliding ? model.newKvCachePool(budget, windows) : model.newKvCachePool(budget);
            Scheduler s = new Scheduler(model, new Scheduler.Config(budget, 64, 64, 8), kv);
            List<Recorder> recs = new ArrayList<>();
            for (SequenceRequest r : requests) {
                Recorder rec = new Recorder();
                s.submit(r, rec);
                recs.add(rec);
            }
            s.step();
            assertEquals(4, s.stats().running(), "all four fit at first");
            for (int i = 0; i < 5000 && !recs.stream().allMatch(Recorder::done); i++) {
                s.step();
                assertTrue(s.stats().kvBlocksUsed() <= kv.totalBlocks());
            }
            if (sliding) {
                assertEquals(0, s.stats().preemptions(), "with release all four run to the end side by side");
                for (SequenceRequest r : requests)
                    assertSameAsSolo(r, recs.get(requests.indexOf(r)), model.newKvCachePool(budget, windows));
            } else {
                assertTrue(s.stats().preemptions() > 0, "without release the same budget cannot hold them");
                for (SequenceRequest r : requests) assertSameAsSolo(r, recs.get(requests.indexOf(r)));
            }
            assertNoBlocksLeaked(s);
        }
    }

    @Test
    void aLongPromptIsAdmittedWithTheSlidingBlocksOfOneChunkOnly() throws Exception {
        int layers = model.config().layers();
        int[] windows = new int[layers];
        for (int l = 0; l < layers; l++) windows[l] = l % 3 == 2 ? 0 : 32;
        StringBuilder text = new StringBuilder();
        while (tok.encode(text.toString(), true).length < 300)
            text.append("The little girl saw a big red ball in the park. ");
        SequenceRequest longPrompt =
                new SequenceRequest(tok.encode(text.toString(), true), SamplingParams.GREEDY, 16, List.of());
        int positions = longPrompt.promptTokens().length + 15;
        long budget = 10 * blockBytes; // 50 one-layer units
        Scheduler.Config config = new Scheduler.Config(budget, 8, 32, 4);
        // At once this context needs 5 units per 16 positions (about 100): more than the whole pool.
        Scheduler plain = new Scheduler(model, config);
        assertTrue(plain.kvCache().blocksToHold(positions) > plain.kvCache().totalBlocks());
        SubmissionRejectedException rejected =
                assertThrows(SubmissionRejectedException.class, () -> plain.submit(longPrompt, new Recorder()));
        assertEquals(SubmissionRejectedException.Reason.INVALID, rejected.reason());
        // With release the full layer holds it all and each sliding layer what one 32-token chunk reads.
        KvCachePool kv = model.newKvCachePool(budget, windows);
        assertTrue(kv.blocksToHold(positions, 32) <= kv.totalBlocks());
        Scheduler s = new Scheduler(model, config, kv);
        Recorder rec = new Recorder();
        s.submit(longPrompt, rec);
        stepUntilDone(s, List.of(rec), 100);
        assertEquals(0, s.stats().preemptions());
        assertSameAsSolo(longPrompt, rec, model.newKvCachePool(4 << 20, windows));
        assertNoBlocksLeaked(s);
    }

    @Test
    void cancelFreesBlocksAtTheNextStep() throws Exception {
        Scheduler s = new Scheduler(model, new Scheduler.Config(4 << 20, 8, 64, 4));
        Recorder a = new Recorder(), b = new Recorder(), queued = new Recorder();
        Scheduler.SequenceHandle ha = s.submit(request("Once upon a time", SamplingParams.GREEDY, 200), a);
        s.submit(request("The little dog", SamplingParams.GREEDY, 30), b);
        for (int i = 0; i < 5; i++) s.step();
        int usedBefore = s.stats().kvBlocksUsed();
        assertTrue(usedBefore > 0);
        // Cancel from another thread, as a disconnecting HTTP client would.
        Thread t = new Thread(ha::cancel);
        t.start();
        t.join();
        assertFalse(ha.isDone(), "cancellation takes effect at the next step");
        s.step();
        assertTrue(ha.isDone());
        SequenceOutcome o = a.outcome.getNow(null);
        assertNotNull(o);
        assertTrue(o.cancelled());
        assertEquals(5, o.generatedTokens());
        assertEquals(1, s.stats().running());
        assertTrue(s.stats().kvBlocksUsed() < usedBefore, "the cancelled sequence's blocks came back");
        // A waiting (not yet admitted) sequence can be cancelled too.
        Scheduler small = new Scheduler(model, new Scheduler.Config(4 << 20, 8, 64, 1));
        Recorder first = new Recorder();
        small.submit(request("Once upon a time", SamplingParams.GREEDY, 10), first);
        small.submit(request("Mom said", SamplingParams.GREEDY, 10), queued).cancel();
        small.step();
        assertTrue(queued.outcome.getNow(null).cancelled());
        assertEquals(0, queued.tokenEvents);
        stepUntilDone(small, List.of(first), 100);
        assertNoBlocksLeaked(small);
        stepUntilDone(s, List.of(b), 100);
        assertSameAsSolo(request("The little dog", SamplingParams.GREEDY, 30), b);
        assertNoBlocksLeaked(s);
    }

    @Test
    void waitingQueueBoundRejectsWithRetryAfter() {
        Scheduler s = new Scheduler(model, new Scheduler.Config(4 << 20, 2, 64, 4));
        s.submit(request("Once upon a time", SamplingParams.GREEDY, 5), new Recorder());
        s.submit(request("Once upon a time", SamplingParams.GREEDY, 5), new Recorder());
        SubmissionRejectedException e = assertThrows(
                SubmissionRejectedException.class,
                () -> s.submit(request("Once upon a time", SamplingParams.GREEDY, 5), new Recorder()));
        assertEquals(SubmissionRejectedException.Reason.OVERLOADED, e.reason());
        assertTrue(e.retryAfterSeconds() >= 1 && e.retryAfterSeconds() <= 60, "retry after " + e.retryAfterSeconds());
        assertEquals(2, s.stats().waiting());
        s.step(); // both admitted: the queue has room again
        assertEquals(0, s.stats().waiting());
        s.submit(request("Once upon a time", SamplingParams.GREEDY, 5), new Recorder());
        s.close();
        assertNoBlocksLeaked(s);
    }

    @Test
    void impossibleRequestsAreRejectedAtSubmission() {
        Scheduler s = new Scheduler(model, new Scheduler.Config(4 * blockBytes, 8, 64, 4));
        int context = model.config().contextLength();
        SubmissionRejectedException tooLong = assertThrows(
                SubmissionRejectedException.class,
                () -> s.submit(
                        new SequenceRequest(new int[context + 1], SamplingParams.GREEDY, 1, List.of()),
                        new Recorder()));
        assertEquals(SubmissionRejectedException.Reason.CONTEXT_LENGTH, tooLong.reason());
        assertTrue(tooLong.getMessage().contains("context length of " + context), tooLong.getMessage());
        SubmissionRejectedException tooMany = assertThrows(
                SubmissionRejectedException.class,
                () -> s.submit(
                        new SequenceRequest(new int[] {1, 2, 3}, SamplingParams.GREEDY, context - 2, List.of()),
                        new Recorder()));
        assertEquals(SubmissionRejectedException.Reason.CONTEXT_LENGTH, tooMany.reason());
        SubmissionRejectedException badToken = assertThrows(
                SubmissionRejectedException.class,
                () -> s.submit(
                        new SequenceRequest(new int[] {1, 99999}, SamplingParams.GREEDY, 4, List.of()),
                        new Recorder()));
        assertEquals(SubmissionRejectedException.Reason.INVALID, badToken.reason());
        assertTrue(badToken.getMessage().contains("99999"));
        SubmissionRejectedException tooBig = assertThrows(
                SubmissionRejectedException.class,
                () -> s.submit(
                        new SequenceRequest(new int[] {1}, SamplingParams.GREEDY, 100, List.of()), new Recorder()));
        assertEquals(
                SubmissionRejectedException.Reason.INVALID,
                tooBig.reason(),
                "100 positions need 7 blocks, the pool has 4");
        assertThrows(
                IllegalArgumentException.class,
                () -> new SequenceRequest(new int[0], SamplingParams.GREEDY, 4, List.of()));
        assertEquals(0, s.stats().waiting());
    }

    @Test
    void loopOnItsOwnThreadServesSubmittersAndDrainsThenStops() throws Exception {
        Scheduler s = new Scheduler(model, new Scheduler.Config(8 << 20, 64, 64, 8));
        Thread loop = new Thread(s, "scheduler-loop");
        loop.start();
        List<SequenceRequest> requests = mixedRequests(6);
        List<Recorder> recs = new ArrayList<>();
        for (SequenceRequest r : requests) {
            Recorder rec = new Recorder();
            s.submit(r, rec);
            recs.add(rec);
        }
        for (Recorder r : recs) r.outcome.get(60, TimeUnit.SECONDS);
        for (int i = 0; i < requests.size(); i++) assertSameAsSolo(requests.get(i), recs.get(i));
        // Drain: in-flight work completes, new work is refused, then the loop ends.
        Recorder inFlight = new Recorder();
        s.submit(request("Once upon a time", SamplingParams.GREEDY, 60), inFlight);
        s.drain(60, TimeUnit.SECONDS);
        SubmissionRejectedException refused = assertThrows(
                SubmissionRejectedException.class,
                () -> s.submit(request("Mom said", SamplingParams.GREEDY, 5), new Recorder()));
        assertEquals(SubmissionRejectedException.Reason.CLOSED, refused.reason());
        assertEquals(60, inFlight.outcome.get(60, TimeUnit.SECONDS).generatedTokens());
        assertTrue(s.awaitLoopExit(60, TimeUnit.SECONDS));
        loop.join(60_000);
        assertFalse(loop.isAlive());
        assertNoBlocksLeaked(s);
    }

    @Test
    void closeFailsWhatIsStillQueuedAndFreesEverything() throws Exception {
        Scheduler s = new Scheduler(model, new Scheduler.Config(8 << 20, 64, 64, 2));
        Recorder a = new Recorder(), b = new Recorder(), c = new Recorder();
        s.submit(request("Once upon a time", SamplingParams.GREEDY, 100), a);
        s.submit(request("The little dog", SamplingParams.GREEDY, 100), b);
        s.submit(request("Mom said", SamplingParams.GREEDY, 100), c);
        for (int i = 0; i < 4; i++) s.step();
        assertEquals(2, s.stats().running());
        assertEquals(1, s.stats().waiting());
        s.close();
        for (Recorder r : List.of(a, b, c)) {
            assertInstanceOf(IllegalStateException.class, r.error);
            assertTrue(r.outcome.isCompletedExceptionally());
        }
        assertNoBlocksLeaked(s);
        assertEquals(
                SubmissionRejectedException.Reason.CLOSED,
                assertThrows(
                                SubmissionRejectedException.class,
                                () -> s.submit(request("Mom said", SamplingParams.GREEDY, 5), new Recorder()))
                        .reason());
    }
}
