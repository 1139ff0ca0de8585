package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Token masks against a brute-force check of every token, generation under grammars with random logits (the output
 * always parses), masked sampling and log-probabilities, lazy grammars, and constrained sequences in the scheduler:
 * batched with unconstrained ones, preempted, they give exactly what they give alone.
 */
class ConstrainedDecodingTest {

    static LlamaModel model;
    static Tokenizer stories;
    static Tokenizer pieces;

    @BeforeAll
    static void load() throws Exception {
        model = LlamaModel.load(TestData.stories260KGguf(), ComputePool.defaultFactory(), 2);
        stories = model.tokenizer();
        pieces = new PiecesTokenizer();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /**
     * A small byte-level vocabulary with multi-byte pieces and tokens that split UTF-8 characters (as byte-level BPE
     * tokens do), invalid bytes, a leading-space token and a control token.
     */
    static final class PiecesTokenizer implements Tokenizer {
        final byte[][] bytes;
        final Vocabulary vocab;

        PiecesTokenizer() {
            List<byte[]> b = new ArrayList<>();
            b.add(new byte[0]); // 0: </s>
            b.add(new byte[0]); // 1: <ctl>
            for (int c = 0x20; c < 0x7F; c++) b.add(new byte[] {(byte) c});
            b.add(new byte[] {'\n'});
            for (String s : List.of("{\"", "\":", "\", \"", "true", "null", "12", "ab", " x", "\"}", "}}", "0.", "-1"))
                b.add(s.getBytes(StandardCharsets.UTF_8));
            byte[] e = "é".getBytes(StandardCharsets.UTF_8), euro = "€".getBytes(StandardCharsets.UTF_8);
            b.add(new byte[] {e[0]});
            b.add(new byte[] {e[1]});
            b.add(e);
            b.add(new byte[] {euro[0], euro[1]});
            b.add(new byte[] {euro[2]});
            b.add(new byte[] {euro[0]});
            b.add(new byte[] {euro[1], euro[2]});
            b.add("日".getBytes(StandardCharsets.UTF_8));
            b.add(new byte[] {(byte) 0xFF});
            b.add(new byte[] {(byte) 0xC0, (byte) 0x80});
            b.add(new byte[] {'a', e[0]});
            bytes = b.toArray(byte[][]::new);
            String[] texts = new String[bytes.length];
            int[] types = new int[bytes.length];
            for (int i = 0; i < texts.length; i++) {
                texts[i] = i == 0 ? "</s>" : i == 1 ? "<ctl>" : "t" + i;
                types[i] = i < 2 ? TYPE_CONTROL : TYPE_NORMAL;
            }
            vocab = new Vocabulary(texts, null, types, -1, 0, -1, -1, -1, false, false);
        }

        @Override
        public int[] encode(String text, boolean addBos, boolean parseSpecial) {
            throw new UnsupportedOperationException();
        }

        @Override
        public byte[] tokenBytes(int id) {
            return bytes[id].clone();
        }

        @Override
        public boolean addsSpacePrefix() {
            return false;
        }

        @Override
        public Vocabulary vocabulary() {
            return vocab;
        }
    }

    /** The mask by checking every token on its own. */
    static long[] bruteForce(Tokenizer tok, GrammarState s, boolean dropLeadingSpace) {
        long[] m = new long[(tok.vocabSize() + 63) / 64];
        for (int id = 0; id < tok.vocabSize(); id++) {
            boolean ok;
            if (tok.isEndOfGeneration(id)) ok = s.canEnd();
            else {
                byte[] b = tok.tokenBytes(id);
                if (dropLeadingSpace && b.length > 0 && b[0] == ' ') b = java.util.Arrays.copyOfRange(b, 1, b.length);
                ok = b.length > 0 && s.advance(b) != null;
            }
            if (ok) m[id >>> 6] |= 1L << id;
        }
        return m;
    }

    /**
     * Generates under {@code grammar} from random logits (structural characters favoured, so the walk ends), checking
     * every step's mask against the brute force. Returns the generation.
     */
    static Generation walk(Tokenizer tok, int[] prompt, GrammarConstraint grammar, long seed, int maxTokens) {
        Generation g =
                new Generation(tok, prompt, SamplingParams.DEFAULTS.withSeed(seed), maxTokens, List.of(), grammar);
        SplittableRandom r = new SplittableRandom(seed);
        float[] bias = new float[tok.vocabSize()];
        for (int id = 0; id < bias.length; id++) {
            String t = new String(tok.tokenBytes(id), StandardCharsets.UTF_8);
            if (t.contains("\"") || t.contains("}") || t.contains("]") || t.contains(",") || tok.isEndOfGeneration(id))
                bias[id] = 4f;
        }
        boolean first = prompt.length == 1 && prompt[0] == tok.bos() && tok.addsSpacePrefix();
        float[] logits = new float[tok.vocabSize()];
        while (!g.finished()) {
            GrammarState s = g.grammarState();
            if (s != null) {
                long[] expected = bruteForce(tok, s, first);
                if (TokenTrie.isEmpty(expected)) expected = TokenTrie.of(tok).endOfGenerationMask();
                assertArrayEquals(expected, g.allowedTokens(), "mask differs from the brute force at " + s);
            }
            for (int i = 0; i < logits.length; i++) logits[i] = (float) r.nextGaussian() * 2f + bias[i];
            g.next(logits);
            first = false;
        }
        return g;
    }

    static final String[] GRAMMARS = {
        JsonSchemaGrammar.JSON_OBJECT,
        "root ::= [a-z]+ (\" \" [a-z]+)* \".\"",
        "root ::= ([^\\x00-\\x7f] | \"a\")+ \"!\"",
        "root ::= \"€\"* \"é\" \"日\"? ",
        "root ::= ( \"(\" root \")\" )* \"x\"",
        "root ::= [0-9]{1,3} (\",\" [0-9]{1,3}){0,4}",
    };

    @Test
    void masksEqualTheBruteForceOnEveryStep() {
        for (Tokenizer tok : List.of(pieces, stories)) {
            int[] prompt = tok == stories ? new int[] {tok.bos()} : new int[] {1};
            for (String gbnf : GRAMMARS) {
                Grammar g = Grammar.parse(gbnf);
                for (long seed = 1; seed <= 6; seed++) {
                    Generation gen = walk(tok, prompt, GrammarConstraint.of(g), seed, 60);
                    if (gen.finishReason() != Generation.FinishReason.MAX_TOKENS) {
                        assertNotNull(GrammarState.initial(g).advance(gen.text().getBytes(StandardCharsets.UTF_8)));
                        assertTrue(
                                GrammarState.initial(g)
                                        .advance(gen.text().getBytes(StandardCharsets.UTF_8))
                                        .canEnd(),
                                () -> "a finished generation is a sentence: " + gen.text());
                    }
                }
            }
        }
    }

    @Test
    void jsonObjectOutputAlwaysParses() {
        int finished = 0;
        for (long seed = 1; seed <= 40; seed++) {
            Generation g = walk(
                    stories,
                    new int[] {stories.bos()},
                    GrammarConstraint.of(JsonSchemaGrammar.jsonObject()),
                    seed,
                    300);
            if (g.finishReason() == Generation.FinishReason.MAX_TOKENS) continue;
            finished++;
            assertEquals(Generation.FinishReason.GRAMMAR, g.finishReason(), "the object closed: nothing may follow");
            Object v = Json.parse(g.text());
            assertTrue(v instanceof Map, g.text());
        }
        assertTrue(finished >= 20, "most walks close their object: " + finished);
    }

    @Test
    void theGenerationEndsWhenTheGrammarIsComplete() {
        Grammar g = Grammar.parse("root ::= \"ab\" \"c\"?");
        Generation gen =
                new Generation(pieces, new int[] {1}, SamplingParams.GREEDY, 50, List.of(), GrammarConstraint.of(g));
        int ab = indexOf("ab"), c = indexOf("c"), eos = 0;
        assertTrue(TokenTrie.allows(gen.allowedTokens(), ab));
        assertFalse(TokenTrie.allows(gen.allowedTokens(), eos), "EOS only where the grammar may end");
        assertFalse(gen.accept(ab, null).finished());
        assertTrue(TokenTrie.allows(gen.allowedTokens(), eos));
        assertTrue(TokenTrie.allows(gen.allowedTokens(), c));
        Generation.Step last = gen.accept(c, null);
        assertEquals(Generation.FinishReason.GRAMMAR, last.finish(), "nothing can follow");
        assertEquals("abc", gen.text());
        Generation other =
                new Generation(pieces, new int[] {1}, SamplingParams.GREEDY, 50, List.of(), GrammarConstraint.of(g));
        assertThrows(IllegalArgumentException.class, () -> other.accept(c, null), "a token the grammar refuses");
    }

    @Test
    void aGrammarNoTokenCanContinueEndsTheSequenceWithEndOfGeneration() {
        Grammar g = Grammar.parse("root ::= \"a\" \"\\u0100\""); // no token spells U+0100
        Generation gen =
                new Generation(pieces, new int[] {1}, SamplingParams.GREEDY, 50, List.of(), GrammarConstraint.of(g));
        float[] logits = new float[pieces.vocabSize()];
        assertEquals(
                "a".getBytes()[0],
                pieces.tokenBytes(gen.next(logitsFavouring(indexOf("a"))).token())[0]);
        Generation.Step s = gen.next(logits);
        assertEquals(0, s.token());
        assertEquals(Generation.FinishReason.END_OF_SEQUENCE, s.finish());
    }

    @Test
    void maskedSamplingAndLogprobsReportTheMaskedDistribution() {
        Grammar g = Grammar.parse("root ::= [0-9]");
        float[] logits = new float[pieces.vocabSize()];
        int nine = indexOf("9"), three = indexOf("3"), z = indexOf("z");
        logits[z] = 20f; // the model prefers a letter
        logits[nine] = 2f;
        logits[three] = 1f;
        for (SamplingParams p : List.of(
                SamplingParams.GREEDY.withTopLogprobs(20),
                SamplingParams.DEFAULTS.withSeed(3).withTopK(2).withTopLogprobs(20),
                SamplingParams.DEFAULTS
                        .withSeed(4)
                        .withTopP(0.5f)
                        .withRepetitionPenalty(1.3f)
                        .withTopLogprobs(5))) {
            Generation gen = new Generation(pieces, new int[] {1}, p, 5, List.of(), GrammarConstraint.of(g));
            Generation.Step s = gen.next(logits);
            String text = new String(pieces.tokenBytes(s.token()), StandardCharsets.UTF_8);
            assertTrue(text.matches("[0-9]"), text);
            Sampler.SampledToken st = s.sample();
            int k = Math.min(p.topLogprobs(), 10);
            assertEquals(k, st.topTokens().length, "only allowed tokens are alternatives");
            double total = 0;
            for (int i = 0; i < st.topTokens().length; i++) {
                assertTrue(new String(pieces.tokenBytes(st.topTokens()[i])).matches("[0-9]"));
                total += Math.exp(st.topLogprobs()[i]);
            }
            if (k == 10) assertEquals(1.0, total, 1e-4, "the masked distribution sums to 1");
            assertEquals(nine, st.topTokens()[0]);
        }
    }

    @Test
    void lazyGrammarsStartAtTheTrigger() {
        Grammar g = Grammar.parse("root ::= \"{\\\"\" [a-z]+ \"\\\"}\"");
        Generation gen = new Generation(
                pieces, new int[] {1}, SamplingParams.GREEDY, 50, List.of(), GrammarConstraint.lazy(g, List.of("{\"")));
        assertNull(gen.allowedTokens(), "free until the trigger");
        gen.accept(indexOf("x"), null);
        gen.accept(indexOf("{"), null);
        assertNull(gen.allowedTokens());
        gen.accept(indexOf("\""), null); // the trigger spans two tokens
        long[] m = gen.allowedTokens();
        assertNotNull(m);
        assertTrue(TokenTrie.allows(m, indexOf("ab")));
        assertFalse(TokenTrie.allows(m, indexOf("1")));
        gen.accept(indexOf("ab"), null);
        Generation.Step end = gen.accept(indexOf("\"}"), null);
        assertEquals(Generation.FinishReason.GRAMMAR, end.finish());
        assertEquals("x{\"ab\"}", gen.text());

        Generation started = new Generation(
                pieces, new int[] {1}, SamplingParams.GREEDY, 50, List.of(), GrammarConstraint.lazy(g, List.of("{")));
        assertNull(started.accept(indexOf("{\""), null).finish(), "the token after the trigger fits the grammar");
        assertNotNull(started.allowedTokens());
        Generation bad = new Generation(
                pieces, new int[] {1}, SamplingParams.GREEDY, 50, List.of(), GrammarConstraint.lazy(g, List.of("\"")));
        assertEquals(
                Generation.FinishReason.GRAMMAR,
                bad.accept(indexOf("\":"), null).finish(),
                "what followed the trigger in its token breaks the grammar");
    }

    static int indexOf(String text) {
        for (int i = 0; i < pieces.vocabSize(); i++)
            if (new String(pieces.tokenBytes(i), StandardCharsets.UTF_8).equals(text)) return i;
        throw new AssertionError("no token " + text);
    }

    static float[] logitsFavouring(int id) {
        float[] l = new float[pieces.vocabSize()];
        l[id] = 10f;
        return l;
    }

    // ------------------------------------------------------------------------------------------------ scheduler

    static String[] schemaGrammars() {
        return new String[] {
            JsonSchemaGrammar.JSON_OBJECT,
            JsonSchemaGrammar.gbnf(
                    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":8},"
                            + "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":120}},\"required\":[\"name\",\"age\"]}"),
        };
    }

    @Test
    void constrainedSequencesBatchedWithOthersGiveTheirSoloOutput() throws Exception {
        // A pool small enough that the batch preempts and recomputes.
        Scheduler s =
                new Scheduler(model, new Scheduler.Config(KvCachePool.bytesPerBlock(model.config()) * 24, 64, 32, 16));
        runBatchedAgainstSolo(s, false);
        assertTrue(s.stats().preemptions() > 0, "the pool forced preemptions");
    }

    @Test
    void constrainedSequencesUnderSpeculativeDecodingGiveTheirSoloOutput() throws Exception {
        // Prompt lookup, and a draft model (the same file again) whose drafts at temperature > 0 would be drawn and
        // kept by the rejection rule, which knows nothing of the mask: under a grammar they must be point drafts.
        long kvBytes = KvCachePool.bytesPerBlock(model.config()) * 64;
        Scheduler ngram =
                new Scheduler(model, new Scheduler.Config(kvBytes, 64, 32, 16, true, Speculation.ngram(5, 1, 3)));
        runBatchedAgainstSolo(ngram, false);
        assertTrue(ngram.stats().draftedTokens() > 0, "prompt lookup drafted");
        try (LlamaModel twin = LlamaModel.load(TestData.stories260KGguf(), ComputePool.defaultFactory(), 2)) {
            Scheduler drafted =
                    new Scheduler(model, new Scheduler.Config(kvBytes, 64, 32, 16, true, Speculation.draft(4)), twin);
            runBatchedAgainstSolo(drafted, true);
            assertTrue(drafted.stats().acceptedTokens() > 0, "the draft model's drafts were kept");
            assertEquals(0, drafted.draftKvCache().usedBlocks(), "draft KV blocks leaked");
        }
    }

    /**
     * Runs constrained and free sequences together and compares each with its solo run. {@code sampledDrafts}: the
     * scheduler draws drafts of free sampled sequences from a draft model, whose output is distributed as the target's
     * but not token for token its solo run; those are only checked to finish.
     */
    private static void runBatchedAgainstSolo(Scheduler s, boolean sampledDrafts) throws Exception {
        List<SequenceRequest> requests = new ArrayList<>();
        String[] grammars = schemaGrammars();
        String[] prompts = {"Once upon a time", "The little dog", "Lily and Ben", "One day", "Tom had a ball"};
        for (int i = 0; i < 10; i++) {
            SamplingParams p = i % 3 == 0
                    ? SamplingParams.GREEDY
                    : SamplingParams.DEFAULTS
                            .withTemperature(0.9f)
                            .withSeed(77 + i)
                            .withTopLogprobs(i % 2);
            GrammarConstraint c = i % 2 == 0 ? GrammarConstraint.of(Grammar.parse(grammars[(i / 2) % 2])) : null;
            requests.add(new SequenceRequest(
                    stories.encode(prompts[i % prompts.length], true),
                    p,
                    40 + 7 * i,
                    List.of(),
                    SequenceRequest.Priority.NORMAL,
                    c));
        }
        List<SchedulerTest.Recorder> recs = new ArrayList<>();
        for (SequenceRequest r : requests) {
            SchedulerTest.Recorder rec = new SchedulerTest.Recorder();
            s.submit(r, rec);
            recs.add(rec);
        }
        for (int step = 0; step < 5000 && !recs.stream().allMatch(SchedulerTest.Recorder::done); step++) s.step();
        for (int i = 0; i < requests.size(); i++) {
            SequenceRequest r = requests.get(i);
            SchedulerTest.Recorder rec = recs.get(i);
            assertNull(rec.error);
            assertNotNull(rec.outcome.get(), "request " + i + " finished");
            if (sampledDrafts && r.grammar() == null && !r.sampling().greedy()) continue;
            Generation solo = solo(r);
            assertArrayEquals(solo.generatedTokens(), rec.tokenArray(), "request " + i + " differs from its solo run");
            assertEquals(solo.text(), rec.outcome.get().text());
            assertEquals(solo.finishReason(), rec.outcome.get().reason());
            if (r.grammar() != null && solo.finishReason() != Generation.FinishReason.MAX_TOKENS)
                assertTrue(Json.parse(solo.text()) instanceof Map, solo.text());
        }
        assertEquals(s.kvCache().totalBlocks(), s.kvCache().freeBlocks(), "KV blocks leaked");
    }

    static Generation solo(SequenceRequest r) throws KvCacheFullException {
        KvCachePool kv = model.newKvCachePool(4 << 20);
        KvCachePool.Sequence seq = kv.newSequence();
        Generation gen = new Generation(stories, r.promptTokens(), r.sampling(), r.maxTokens(), r.stop(), r.grammar());
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
        return gen;
    }

    @Test
    void aVocabularyWithoutEndOfGenerationIsRefused() {
        Tokenizer.Vocabulary v =
                new Tokenizer.Vocabulary(new String[] {"a", "b"}, null, null, -1, -1, -1, -1, -1, false, false);
        Tokenizer noEos = new Tokenizer() {
            public int[] encode(String text, boolean addBos, boolean parseSpecial) {
                throw new UnsupportedOperationException();
            }

            public byte[] tokenBytes(int id) {
                return new byte[] {(byte) ('a' + id)};
            }

            public boolean addsSpacePrefix() {
                return false;
            }

            public Vocabulary vocabulary() {
                return v;
            }
        };
        assertThrows(
                IllegalArgumentException.class,
                () -> new Generation(
                        noEos,
                        new int[] {0},
                        SamplingParams.GREEDY,
                        5,
                        List.of(),
                        GrammarConstraint.of(Grammar.parse("root ::= \"a\""))));
    }
}
