package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Speculative decoding on the real stories260K model: with prompt lookup and with draft models (the same weights, and
 * weights whose drafts are often rejected), every sequence must emit exactly the tokens, text, log-probabilities and
 * finish reason it emits without speculation, batched with others, preempted, with stop strings and token limits; KV
 * blocks of the target and of the draft all come back, and rejected drafts never reach the prefix cache.
 */
class SpeculativeDecodingTest {

    static LlamaModel model;
    /** The same file loaded again: every draft agrees with the target. */
    static LlamaModel twin;
    /** Same vocabulary, other numerics (RMSNorm epsilon 0.3): its drafts are often rejected. */
    static LlamaModel skewed;

    static Tokenizer tok;
    static long blockBytes;

    @TempDir
    static Path dir;

    @BeforeAll
    static void load() throws Exception {
        Path path = Path.of("..", "models", "stories260K.gguf").toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(path), "the bundled default model is missing at " + path);
        model = LlamaModel.load(path, ComputePool.defaultFactory(), 2);
        twin = LlamaModel.load(path, ComputePool.defaultFactory(), 2);
        Path skewedPath;
        try (GgufFile f = GgufFile.open(path)) {
            skewedPath = GgufWriter.copy(
                    f, dir.resolve("skewed.gguf"), Map.of("llama.attention.layer_norm_rms_epsilon", 0.3f));
        }
        skewed = LlamaModel.load(skewedPath, ComputePool.defaultFactory(), 2);
        tok = model.tokenizer();
        blockBytes = KvCachePool.bytesPerBlock(model.config());
    }

    @AfterAll
    static void close() {
        model.close();
        twin.close();
        skewed.close();
    }

    /** Every event of one sequence. */
    static final class Events implements SequenceListener {
        final List<Generation.Step> steps = new ArrayList<>();
        final CompletableFuture<SequenceOutcome> outcome = new CompletableFuture<>();
        volatile Throwable error;

        @Override
        public void onToken(Generation.Step step) {
            steps.add(step);
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

        boolean done() {
            return outcome.isDone();
        }
    }

    /** Every step of a sequence run alone, one token per forward pass, no scheduler, no speculation. */
    static List<Generation.Step> solo(SequenceRequest r) throws KvCacheFullException {
        KvCachePool kv = model.newKvCachePool(4 << 20);
        KvCachePool.Sequence seq = kv.newSequence();
        Generation gen = new Generation(tok, r.promptTokens(), r.sampling(), r.maxTokens(), r.stop());
        kv.reserve(seq, r.promptTokens().length);
        float[] logits =
                model.forward(new Batch().add(seq, 0, r.promptTokens())).logits(0);
        List<Generation.Step> steps = new ArrayList<>();
        while (true) {
            Generation.Step step = gen.next(logits);
            steps.add(step);
            if (step.finished()) break;
            kv.reserve(seq, seq.length() + 1);
            logits = model.forward(new Batch().add(seq, seq.length(), step.token()))
                    .logits(0);
        }
        kv.free(seq);
        return steps;
    }

    static void assertSameSteps(List<Generation.Step> expected, Events actual, String what) {
        assertNull(actual.error, () -> what + ": failed: " + actual.error);
        assertEquals(expected.size(), actual.steps.size(), what + ": token count");
        for (int i = 0; i < expected.size(); i++) {
            Generation.Step e = expected.get(i), a = actual.steps.get(i);
            String at = what + ", token " + i;
            assertEquals(e.token(), a.token(), at);
            assertEquals(e.text(), a.text(), at + " text");
            assertEquals(e.finish(), a.finish(), at + " finish");
            assertEquals(e.sample().logprob(), a.sample().logprob(), at + " logprob");
            assertArrayEquals(e.sample().topTokens(), a.sample().topTokens(), at + " top tokens");
            assertArrayEquals(e.sample().topLogprobs(), a.sample().topLogprobs(), at + " top logprobs");
        }
    }

    static final String[] PROMPTS = {
        "Once upon a time", "The little dog", "Lily and Ben went to the park", "One day, a big bird",
        "Tom had a red ball. He", "The sun was hot", "Sara wanted to", "There was a cat named"
    };

    /** Greedy and seeded, with logprobs, a stop string and short limits among them. */
    static List<SequenceRequest> requests(int count, boolean greedyOnly) {
        List<SequenceRequest> list = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            SamplingParams p = greedyOnly || i % 2 == 0
                    ? SamplingParams.GREEDY.withTopLogprobs(i % 3 == 0 ? 2 : -1)
                    : SamplingParams.DEFAULTS
                            .withTemperature(0.8f)
                            .withTopP(0.95f)
                            .withSeed(500 + i)
                            .withTopLogprobs(1);
            int max = i == 3 ? 5 : 60 + 17 * (i % 4);
            List<String> stop = i == 5 ? List.of(".") : List.of();
            list.add(new SequenceRequest(tok.encode(PROMPTS[i % PROMPTS.length], true), p, max, stop));
        }
        return list;
    }

    static List<Events> runAll(Scheduler s, List<SequenceRequest> requests) {
        List<Events> events = new ArrayList<>();
        for (SequenceRequest r : requests) {
            Events e = new Events();
            s.submit(r, e);
            events.add(e);
        }
        for (int i = 0; i < 20_000 && !events.stream().allMatch(Events::done); i++) s.step();
        assertTrue(events.stream().allMatch(Events::done), "every sequence finished");
        return events;
    }

    static void assertNothingHeld(Scheduler s) {
        KvCachePool kv = s.kvCache();
        assertEquals(kv.totalBlocks(), kv.freeBlocks(), "target KV blocks leaked");
        assertEquals(0, kv.usedBlocks(), "target KV blocks in use");
        KvCachePool draftKv = s.draftKvCache();
        if (draftKv != null) assertEquals(0, draftKv.usedBlocks(), "draft KV blocks leaked");
    }

    static Scheduler.Config config(long kvBytes, Speculation speculation) {
        return new Scheduler.Config(kvBytes, 64, 64, 8, true, speculation);
    }

    // ------------------------------------------------------------------------------------------------

    @Test
    void promptLookupEmitsExactlyTheNonSpeculativeTokensBatchedWithOthers() throws Exception {
        List<SequenceRequest> requests = requests(8, false);
        Scheduler s = new Scheduler(model, config(8 << 20, Speculation.ngram(5, 1, 3)));
        List<Events> events = runAll(s, requests);
        for (int i = 0; i < requests.size(); i++) assertSameSteps(solo(requests.get(i)), events.get(i), "seq " + i);
        Scheduler.Stats st = s.stats();
        assertTrue(st.draftedTokens() > 0, "drafts were proposed");
        assertTrue(st.acceptedTokens() > 0, "some drafts were kept");
        assertTrue(st.acceptedTokens() < st.draftedTokens(), "and some rejected");
        assertTrue(st.steps() < st.generatedTokens() / 8 * 8, "fewer steps than tokens: several tokens per step");
        assertEquals(
                Generation.FinishReason.STOP_STRING, events.get(5).outcome.get().reason());
        assertEquals(
                Generation.FinishReason.MAX_TOKENS, events.get(3).outcome.get().reason());
        assertNothingHeld(s);
    }

    @Test
    void aDraftModelEmitsExactlyTheNonSpeculativeGreedyTokens() throws Exception {
        for (LlamaModel draft : List.of(twin, skewed)) {
            List<SequenceRequest> requests = requests(8, true);
            // No confidence cut-off: every step drafts k, so verification sees the skewed draft's rejections.
            Scheduler s = new Scheduler(model, config(8 << 20, Speculation.draft(4, 0)), draft);
            List<Events> events = runAll(s, requests);
            for (int i = 0; i < requests.size(); i++)
                assertSameSteps(solo(requests.get(i)), events.get(i), (draft == twin ? "twin" : "skewed") + " " + i);
            Scheduler.Stats st = s.stats();
            assertTrue(st.draftedTokens() > 0);
            if (draft == twin) {
                // Identical weights and batch-invariant kernels: a draft is rejected only past a token that ends it.
                assertTrue(st.acceptanceRate() > 0.95, "twin acceptance " + st.acceptanceRate());
            } else {
                assertTrue(st.acceptanceRate() < 0.9, "skewed acceptance " + st.acceptanceRate());
                assertTrue(st.acceptedTokens() > 0);
            }
            assertNothingHeld(s);
        }
    }

    @Test
    void anUnsureDraftProposesLessAndPausesWithoutChangingTheOutput() throws Exception {
        // The skewed draft's distributions over the tiny vocabulary are rarely peaked: with a cut-off near 1 almost
        // every first draft is unsure, those steps verify nothing and count as misses, so the sequences pause and the
        // drafts (and draft passes) nearly vanish; the tokens are those of decoding alone either way.
        long[] drafted = new long[2];
        double[] cutOffs = {0, 0.99};
        for (int c = 0; c < cutOffs.length; c++) {
            List<SequenceRequest> requests = requests(4, true);
            Scheduler s = new Scheduler(model, config(8 << 20, Speculation.draft(4, cutOffs[c])), skewed);
            List<Events> events = runAll(s, requests);
            for (int i = 0; i < requests.size(); i++)
                assertSameSteps(solo(requests.get(i)), events.get(i), "cut-off " + cutOffs[c] + ", " + i);
            drafted[c] = s.stats().draftedTokens();
            assertNothingHeld(s);
        }
        assertTrue(drafted[0] > 0, "without a cut-off the draft proposes");
        assertTrue(
                drafted[1] * 4 < drafted[0], "drafted " + drafted[1] + " with the cut-off, " + drafted[0] + " without");
    }

    @Test
    void theDraftPrefillsWithTheTargetAndIsGivenUpAfterFailedProbes() throws Exception {
        // A cut-off near 1: the skewed draft is unsure of nearly every first token, so the sequence misses, pauses,
        // fails the probe 8 steps later and, never having kept a draft, gives the draft up: its draft blocks go back
        // while the sequence still decodes. Before that, the draft's prompt was prefilled in the step that prefilled
        // the
        // target, not in the first decoding step.
        Scheduler s = new Scheduler(model, config(8 << 20, Speculation.draft(4, 0.99)), skewed);
        SequenceRequest r = new SequenceRequest(tok.encode(PROMPTS[0], true), SamplingParams.GREEDY, 200, List.of());
        Events e = new Events();
        s.submit(r, e);
        s.step();
        assertEquals(1, e.steps.size(), "the prefill step samples the first token");
        int promptBlocks = KvCachePool.blocksFor(r.promptTokens().length);
        assertEquals(promptBlocks, s.draftKvCache().usedBlocks(), "the draft prefilled the prompt with the target");
        int releasedAt = -1;
        while (!e.done()) {
            s.step();
            if (releasedAt < 0 && s.draftKvCache().usedBlocks() == 0 && !e.done()) releasedAt = e.steps.size();
        }
        assertTrue(releasedAt > 0 && releasedAt < 40, "draft given up while decoding, at token " + releasedAt);
        assertSameSteps(solo(r), e, "after giving the draft up");
        assertTrue(s.stats().draftedTokens() < 8, "drafted " + s.stats().draftedTokens());
        assertNothingHeld(s);
    }

    @Test
    void theConfidenceTestIsTheSoftmaxProbabilityOfTheDraftedToken() {
        float[] even = {1f, 1f, -30f};
        assertTrue(Speculator.atLeast(even, 0, 0.5)); // p = 1 / (1 + 1 + e^-31)
        assertFalse(Speculator.atLeast(even, 0, 0.51));
        float[] peaked = new float[50_000];
        peaked[123] = 12f; // the rest at 0: p = 1 / (1 + 49_999 e^-12) = 0.765
        assertTrue(Speculator.atLeast(peaked, 123, 0.75));
        assertFalse(Speculator.atLeast(peaked, 123, 0.78));
        assertFalse(Speculator.atLeast(peaked, 7, 0.01), "a token far below the top is unsure");
        assertTrue(Speculator.atLeast(peaked, 7, 0), "a cut-off of 0 accepts every draft");
    }

    @Test
    void preemptedSpeculatingSequencesStillEmitTheirSoloOutput() throws Exception {
        for (Speculation sp : List.of(Speculation.ngram(4, 1, 3), Speculation.draft(3))) {
            Scheduler s = new Scheduler(model, config(14 * blockBytes, sp), twin);
            List<SequenceRequest> requests = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                SamplingParams p = i % 2 == 0
                        ? SamplingParams.GREEDY
                        : SamplingParams.DEFAULTS.withTemperature(0.9f).withSeed(77 + i);
                // The draft model samples from its own distribution at temperature > 0: only greedy is token-exact.
                if (sp.method() == Speculation.Method.DRAFT) p = SamplingParams.GREEDY;
                requests.add(new SequenceRequest(tok.encode(PROMPTS[i], true), p, 80, List.of()));
            }
            List<Events> events = runAll(s, requests);
            assertTrue(s.stats().preemptions() > 0, "the tiny budget forced preemptions");
            for (int i = 0; i < requests.size(); i++)
                assertSameSteps(solo(requests.get(i)), events.get(i), sp.method() + " " + i);
            assertTrue(s.stats().acceptedTokens() > 0);
            assertNothingHeld(s);
        }
    }

    @Test
    void rejectedDraftsNeverReachThePrefixCache() throws Exception {
        // The skewed draft's rejections leave rejected keys in the positions after each kept token, truncated at once.
        // A second request whose prompt is the first's whole context starts from its cached blocks: had a block with
        // a rejected token been cached, its continuation would differ from the solo run.
        Scheduler s = new Scheduler(model, config(8 << 20, Speculation.draft(6, 0)), skewed);
        SequenceRequest first =
                new SequenceRequest(tok.encode(PROMPTS[2], true), SamplingParams.GREEDY, 120, List.of());
        Events a = runAll(s, List.of(first)).get(0);
        assertTrue(s.stats().draftedTokens() > s.stats().acceptedTokens(), "drafts were rejected");
        int[] context = new int[first.promptTokens().length + a.steps.size() - 1];
        System.arraycopy(first.promptTokens(), 0, context, 0, first.promptTokens().length);
        for (int i = 0; i < a.steps.size() - 1; i++)
            context[first.promptTokens().length + i] = a.steps.get(i).token();
        assertTrue(s.kvCache().cachedBlocks() >= context.length / KvCachePool.BLOCK_TOKENS - 1);
        SequenceRequest second = new SequenceRequest(context, SamplingParams.GREEDY, 60, List.of());
        Events b = runAll(s, List.of(second)).get(0);
        assertTrue(b.outcome.get().cachedTokens() >= (context.length - 1) / 16 * 16 - 16, "mostly served from cache");
        assertSameSteps(solo(second), b, "continuation from the cached prefix");
        assertNothingHeld(s);
    }

    @Test
    void aDraftWithAnotherVocabularyIsRefused() throws Exception {
        Path path = Path.of("..", "models", "stories260K.gguf").toAbsolutePath().normalize();
        Path other;
        try (GgufFile f = GgufFile.open(path)) {
            String[] tokens = ((String[]) f.metadata().get("tokenizer.ggml.tokens")).clone();
            tokens[300] = tokens[300] + "x";
            other = GgufWriter.copy(f, dir.resolve("other-vocab.gguf"), Map.of("tokenizer.ggml.tokens", tokens));
        }
        try (LlamaModel draft = LlamaModel.load(other, ComputePool.defaultFactory(), 1)) {
            UnsupportedModelException e = assertThrows(
                    UnsupportedModelException.class,
                    () -> new Scheduler(model, config(4 << 20, Speculation.draft(4)), draft));
            assertTrue(e.getMessage().contains("token 300"), e.getMessage());
        }
        assertThrows(
                IllegalArgumentException.class,
                () -> new Scheduler(model, config(4 << 20, Speculation.draft(4))),
                "DRAFT without a draft model");
    }

    @Test
    void seededSamplingWithADraftModelStaysWithinTheTargetsSupport() throws Exception {
        // Not token-exact (the draws differ), but every token must be one the target's filters allow: with top-k 3
        // each emitted token is among the target's top 3 at its position, which the logprobs report.
        SamplingParams p = SamplingParams.DEFAULTS
                .withTemperature(1f)
                .withTopK(3)
                .withSeed(9)
                .withTopLogprobs(3);
        Scheduler s = new Scheduler(model, config(8 << 20, Speculation.draft(4)), skewed);
        List<SequenceRequest> requests = new ArrayList<>();
        for (String prompt : PROMPTS) requests.add(new SequenceRequest(tok.encode(prompt, true), p, 50, List.of()));
        List<Events> events = runAll(s, requests);
        for (Events e : events) {
            assertNull(e.error);
            for (Generation.Step st : e.steps) {
                boolean inTop3 = false;
                for (int t : st.sample().topTokens()) inTop3 |= t == st.token();
                assertTrue(inTop3, "token " + st.token() + " outside the target's top 3");
            }
        }
        assertTrue(s.stats().acceptedTokens() > 0);
        assertNothingHeld(s);
    }

    // ------------------------------------------------------------------------------------------------
    // The pieces

    @Test
    void rejectionSamplingReproducesTheTargetDistribution() {
        float[] p = {0.40f, 0.25f, 0.15f, 0.10f, 0.07f, 0.03f};
        float[] q = {0.05f, 0.50f, 0.05f, 0.30f, 0.00f, 0.10f};
        SplittableRandom random = new SplittableRandom(42);
        int trials = 400_000;
        long[] counts = new long[p.length];
        long kept = 0;
        for (int t = 0; t < trials; t++) {
            int x = RejectionSampling.sample(q, random);
            int y = RejectionSampling.acceptOrResample(p, q, x, random);
            counts[y]++;
            if (y == x) kept++;
        }
        for (int i = 0; i < p.length; i++) {
            double f = (double) counts[i] / trials, sigma = Math.sqrt(p[i] * (1 - p[i]) / trials);
            assertEquals(p[i], f, 5 * sigma, "token " + i + ": frequency " + f + " vs p " + p[i]);
        }
        double expectedKept = 0;
        for (int i = 0; i < p.length; i++) expectedKept += Math.min(p[i], q[i]);
        assertEquals(expectedKept, (double) kept / trials, 0.005, "acceptance is the overlap Σ min(p, q)");
        // A point-mass draft (prompt lookup) is kept exactly with probability p(x).
        float[] point = {0, 0, 1, 0, 0, 0};
        long pointKept = 0;
        for (int t = 0; t < trials; t++) if (RejectionSampling.acceptOrResample(p, point, 2, random) == 2) pointKept++;
        assertEquals(p[2], (double) pointKept / trials, 0.005);
    }

    @Test
    void promptLookupProposesWhatFollowedTheLongestMostRecentMatch() {
        int[] t = {1, 2, 3, 4, 9, 2, 3, 5, 6, 7, 1, 2, 3};
        // "1 2 3" (n = 3) occurs at 0, followed by 4 9 2 ...
        assertArrayEquals(new int[] {4, 9, 2}, Speculator.lookup(t, t.length, 1, 3, 3));
        // With n <= 2 the most recent "2 3" is at 5, followed by 5 6 7 1.
        assertArrayEquals(new int[] {5, 6, 7, 1}, Speculator.lookup(t, t.length, 1, 2, 4));
        // Past the end of the context the matched stretch repeats: "7 8 7" continues 8 7 8 7 8.
        int[] r = {7, 8, 7};
        assertArrayEquals(new int[] {8, 7, 8, 7, 8}, Speculator.lookup(r, r.length, 1, 3, 5));
        int[] loop = {5, 1, 2, 3, 1, 2, 3};
        assertArrayEquals(new int[] {1, 2, 3, 1, 2}, Speculator.lookup(loop, loop.length, 1, 3, 5));
        assertEquals(0, Speculator.lookup(new int[] {1, 2, 3}, 3, 1, 3, 4).length, "no match");
        assertEquals(0, Speculator.lookup(t, t.length, 4, 4, 4).length, "no 4-gram match");
    }

    @Test
    void draftLengthAdaptsAndPausesWhereDraftsAreRejected() throws Exception {
        Speculator sp = new Speculator(Speculation.ngram(6, 1, 3), model, null, 4 << 20, 64);
        SequenceRequest r = new SequenceRequest(tok.encode("Once", true), SamplingParams.GREEDY, 10_000, List.of());
        Scheduler.Seq s = new Scheduler.Seq(
                1, r, new Generation(tok, r.promptTokens(), r.sampling(), 10_000, List.of()), new Events(), null);
        assertEquals(6, sp.budget(s), "starts at the maximum");
        verified(sp, s, 6, 6);
        assertEquals(6, sp.budget(s), "all kept: stays at the maximum");
        verified(sp, s, 6, 2);
        assertEquals(3, sp.budget(s), "two kept: three next");
        verified(sp, s, 3, 0);
        assertEquals(1, sp.budget(s));
        verified(sp, s, 1, 0); // the average fell below the threshold: paused
        int paused = 0;
        while (sp.budget(s) == 0) paused++;
        assertEquals(Speculator.FIRST_PAUSE, paused, "first pause");
        verified(sp, s, 1, 0); // the probe missed: a pause twice as long
        paused = 0;
        while (sp.budget(s) == 0) paused++;
        assertEquals(2 * Speculator.FIRST_PAUSE, paused, "second pause");
        verified(sp, s, 1, 1); // the probe hit: drafting resumes and grows again
        assertEquals(2, sp.budget(s));
        assertEquals(18, sp.draftedTokens());
        assertEquals(9, sp.acceptedTokens());
        // The limit: never more drafts than the tokens left after the one every step emits.
        SequenceRequest shortOne = new SequenceRequest(tok.encode("Once", true), SamplingParams.GREEDY, 3, List.of());
        Scheduler.Seq t = new Scheduler.Seq(
                2,
                shortOne,
                new Generation(tok, shortOne.promptTokens(), shortOne.sampling(), 3, List.of()),
                new Events(),
                null);
        assertEquals(2, sp.budget(t));
        assertNotEquals(0, sp.budget(t));
    }

    /** A verification of {@code drafted} drafts of which {@code kept} were kept, as the scheduler reports it. */
    private static void verified(Speculator sp, Scheduler.Seq s, int drafted, int kept) {
        s.spec.drafts = new int[drafted];
        s.spec.accepted = kept;
        sp.settle(s);
    }
}
