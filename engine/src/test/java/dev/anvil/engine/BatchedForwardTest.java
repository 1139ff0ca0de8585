package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A batch that mixes prefill chunks and decode tokens of several sequences gives every sequence exactly
 * (bit for bit) the logits it gets when run alone: batching must not change results.
 */
class BatchedForwardTest {

    /**
     * Every family (reference/arch: Qwen 2/3, Gemma 2/3 with sliding windows shorter than the longest sequence
     * here, Phi-3, Llama 3) with both attention roundings, and the Llama references.
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "models/stories260K.gguf, SOFTMAX_F16",
        "reference/models/ref-spm-q8_0.gguf, SOFTMAX_F16",
        "reference/models/ref-bpe-q4_k_m.gguf, SOFTMAX_F16",
        "reference/arch/qwen2-q8_0.gguf, SOFTMAX_F16",
        "reference/arch/qwen3-q4_k_m.gguf, FLASH_F16",
        "reference/arch/gemma2-f16.gguf, SOFTMAX_F16",
        "reference/arch/gemma2-f16.gguf, FLASH_F16",
        "reference/arch/gemma3-q8_0.gguf, FLASH_F16",
        "reference/arch/phi3-q4_k_m.gguf, SOFTMAX_F16",
        "reference/arch/llama3-q6_k.gguf, FLASH_F16"
    })
    void mixedBatchesEqualSequentialRuns(String file, LlamaModel.AttentionNumerics numerics) throws Exception {
        Path path = TestData.sharedDir().resolve(file);
        try (LlamaModel m = LlamaModel.load(path, ComputePool.defaultFactory(), 2)) {
            m.attentionNumerics(numerics);
            Random r = new Random(7);
            int n = 3;
            int[][] tokens = new int[n][];
            int[] lengths = {23, 9, 17};
            for (int s = 0; s < n; s++) {
                tokens[s] = new int[lengths[s]];
                for (int i = 0; i < lengths[s]; i++)
                    tokens[s][i] = r.nextInt(m.config().vocabSize());
            }
            KvCachePool kv = m.newKvCachePool(32L << 20);

            // Reference: each sequence alone, one prefill with logits at every position.
            float[][][] alone = new float[n][][];
            for (int s = 0; s < n; s++) {
                KvCachePool.Sequence seq = kv.newSequence();
                kv.reserve(seq, lengths[s]);
                ForwardResult res = m.forward(new Batch().add(new Batch.Entry(seq, 0, tokens[s], true)));
                alone[s] = new float[lengths[s]][];
                for (int i = 0; i < lengths[s]; i++) alone[s][i] = res.logits(0, i);
                kv.free(seq);
            }

            // Batched schedule: sequence 0 prefills 20 tokens then decodes; 1 starts in step 2 with a chunk
            // of 5, then another of 3, then decodes; 2 prefills 16 in step 1 and decodes from step 2.
            KvCachePool.Sequence[] seqs = {kv.newSequence(), kv.newSequence(), kv.newSequence()};
            int[][] schedule = { // per step: tokens fed for each sequence (0 = not in this batch)
                {20, 0, 16},
                {1, 5, 1},
                {1, 3, 0},
                {1, 1, 0},
            };
            int[] done = new int[n];
            for (int[] step : schedule) {
                Batch batch = new Batch();
                int[] order = new int[n];
                int entries = 0;
                for (int s = n - 1; s >= 0; s--) { // reverse order: entry order must not matter either
                    if (step[s] == 0) continue;
                    kv.reserve(seqs[s], done[s] + step[s]);
                    int[] chunk = java.util.Arrays.copyOfRange(tokens[s], done[s], done[s] + step[s]);
                    batch.add(new Batch.Entry(seqs[s], done[s], chunk, step[s] > 1));
                    order[entries++] = s;
                }
                ForwardResult res = m.forward(batch);
                for (int e = 0; e < entries; e++) {
                    int s = order[e];
                    for (int i = 0; i < step[s]; i++) {
                        assertArrayEquals(
                                alone[s][done[s] + i],
                                res.logits(e, i),
                                "sequence " + s + " position " + (done[s] + i));
                    }
                    done[s] += step[s];
                    assertEquals(done[s], seqs[s].length());
                }
            }
            for (KvCachePool.Sequence s : seqs) kv.free(s);
            assertEquals(0, kv.usedBlocks());
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0})
    void forwardRejectsBadEntries(int ignored) throws Exception {
        try (LlamaModel m = LlamaModel.load(TestData.stories260KGguf(), ComputePool.defaultFactory(), 2)) {
            KvCachePool kv = m.newKvCachePool(1 << 20);
            KvCachePool.Sequence seq = kv.newSequence();
            assertThrows(
                    IllegalArgumentException.class, () -> m.forward(new Batch().add(seq, 0, 1)), "no blocks reserved");
            kv.reserve(seq, 4);
            assertThrows(
                    IllegalArgumentException.class,
                    () -> m.forward(new Batch().add(seq, 1, 1)),
                    "gap before start position");
            assertThrows(
                    IllegalArgumentException.class,
                    () -> m.forward(new Batch().add(seq, 0, 512)),
                    "token outside vocabulary");
            assertThrows(
                    IllegalArgumentException.class,
                    () -> new Batch().add(seq, 0, 1).add(seq, 1, 2),
                    "sequence twice");
            kv.free(seq);
            assertThrows(IllegalArgumentException.class, () -> m.forward(new Batch().add(seq, 0, 1)), "freed sequence");
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1L, 99L})
    void seededSamplingIsIndependentOfBatchComposition(long seed) throws Exception {
        try (LlamaModel m = LlamaModel.load(TestData.stories260KGguf(), ComputePool.defaultFactory(), 2)) {
            SamplingParams params = SamplingParams.DEFAULTS.withSeed(seed).withTopP(0.95f);
            int[] prompt = m.tokenizer().encode("Once upon a time", true);
            KvCachePool kv = m.newKvCachePool(8 << 20);
            int[] alone = sample(m, kv, params, prompt, 0);
            int[] crowded = sample(m, kv, params, prompt, 5);
            assertArrayEquals(alone, crowded);
            assertEquals(0, kv.usedBlocks());
        }
    }

    /** Samples 30 tokens for one request, optionally decoding next to {@code others} unrelated sequences. */
    private static int[] sample(LlamaModel m, KvCachePool kv, SamplingParams params, int[] prompt, int others)
            throws Exception {
        Generation gen = new Generation(m.tokenizer(), prompt, params, 30, java.util.List.of());
        KvCachePool.Sequence seq = kv.newSequence();
        KvCachePool.Sequence[] noise = new KvCachePool.Sequence[others];
        Batch first = new Batch();
        kv.reserve(seq, prompt.length);
        first.add(seq, 0, prompt);
        for (int i = 0; i < others; i++) {
            noise[i] = kv.newSequence();
            kv.reserve(noise[i], 40);
            first.add(noise[i], 0, 1, 10 + i, 20 + i);
        }
        float[] logits = m.forward(first).logits(0);
        int[] out = new int[30];
        int n = 0;
        while (true) {
            Generation.Step step = gen.next(logits);
            out[n++] = step.token();
            if (step.finished()) break;
            Batch b = new Batch();
            kv.reserve(seq, seq.length() + 1);
            b.add(seq, seq.length(), step.token());
            for (int i = 0; i < others; i++) b.add(noise[i], noise[i].length(), 300 + i);
            logits = m.forward(b).logits(0);
        }
        kv.free(seq);
        for (KvCachePool.Sequence s : noise) kv.free(s);
        return java.util.Arrays.copyOf(out, n);
    }
}
