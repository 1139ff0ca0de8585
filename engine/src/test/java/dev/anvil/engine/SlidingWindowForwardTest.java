package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Sliding-window attention in the forward pass: releasing the blocks outside every window changes no logit (bit for
 * bit, against a pool that masks the same way but keeps everything), and the mask itself has the window's meaning.
 */
class SlidingWindowForwardTest {

    /** Gemma-like pattern: every third layer attends to everything, the others to the last {@code w} positions. */
    static int[] pattern(int layers, int w) {
        int[] windows = new int[layers];
        for (int l = 0; l < layers; l++) windows[l] = l % 3 == 2 ? 0 : w;
        return windows;
    }

    static int[] randomTokens(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }

    /** Every position's logits of one prefill of {@code tokens} in a fresh sequence of {@code kv}. */
    static float[][] prefillAll(LlamaModel m, KvCachePool kv, int[] tokens) throws Exception {
        KvCachePool.Sequence seq = kv.newSequence();
        kv.reserve(seq, tokens.length);
        ForwardResult res = m.forward(new Batch().add(new Batch.Entry(seq, 0, tokens, true)));
        float[][] out = new float[tokens.length][];
        for (int i = 0; i < tokens.length; i++) out[i] = res.logits(0, i);
        kv.free(seq);
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"models/stories260K.gguf", "reference/models/ref-spm-q8_0.gguf"})
    void releasingBlocksChangesNoLogit(String file) throws Exception {
        try (LlamaModel m = LlamaModel.load(TestData.sharedDir().resolve(file), ComputePool.defaultFactory(), 2)) {
            ModelConfig c = m.config();
            int w = 24; // not a multiple of 16: windows start inside a block
            int[] windows = pattern(c.layers(), w);
            int n = Math.min(150, c.contextLength());
            int[] tokens = randomTokens(n, c.vocabSize(), 3);
            long budget = 64L << 20;
            KvCachePool keeping = new KvCachePool(c, windows, budget, false);
            KvCachePool releasing = m.newKvCachePool(budget, windows);

            // Reference: one prefill over a pool that masks but never releases.
            float[][] reference = prefillAll(m, keeping, tokens);

            // Chunks of 40 and 7, then one token at a time, next to a second sequence that joins later.
            KvCachePool.Sequence seq = releasing.newSequence(), other = releasing.newSequence();
            int[] otherTokens = randomTokens(n, c.vocabSize(), 4);
            int done = 0, otherDone = 0;
            while (done < n) {
                int take = done == 0 ? 40 : done < 61 ? 7 : 1;
                take = Math.min(take, n - done);
                Batch b = new Batch();
                releasing.reserve(seq, done + take);
                b.add(new Batch.Entry(seq, done, Arrays.copyOfRange(tokens, done, done + take), true));
                if (done >= 54 && otherDone < n) {
                    int ot = otherDone == 0 ? 30 : 1;
                    releasing.reserve(other, otherDone + ot);
                    b.add(other, otherDone, Arrays.copyOfRange(otherTokens, otherDone, otherDone + ot));
                    otherDone += ot;
                }
                ForwardResult res = m.forward(b);
                for (int i = 0; i < take; i++)
                    assertArrayEquals(reference[done + i], res.logits(0, i), "position " + (done + i));
                done += take;
            }
            int slidingLayer = 0, fullLayer = 2 % c.layers();
            assertEquals(KvCachePool.blocksFor(n), seq.groupBlockCount(fullLayer));
            assertTrue(
                    seq.groupBlockCount(slidingLayer) <= w / KvCachePool.BLOCK_TOKENS + 2,
                    "the sliding layers held only their window: " + seq.groupBlockCount(slidingLayer) + " blocks");
            assertTrue(seq.firstHeldPosition(slidingLayer) > 0, "blocks were released");

            // The mask is real: past the window the logits differ from full attention, before it they are identical.
            float[][] full = prefillAll(m, m.newKvCachePool(budget), tokens);
            for (int p = 0; p < w; p++) assertArrayEquals(full[p], reference[p], "inside the window, position " + p);
            assertFalse(Arrays.equals(full[n - 1], reference[n - 1]), "a window changes what the last token sees");
            releasing.free(seq);
            releasing.free(other);
            assertEquals(releasing.totalBlocks(), releasing.freeBlocks());
        }
    }

    @Test
    void tokensOutsideTheReceptiveFieldDoNotChangeTheLogits() throws Exception {
        try (LlamaModel m = LlamaModel.load(TestData.stories260KGguf(), ComputePool.defaultFactory(), 2)) {
            ModelConfig c = m.config();
            int w = 8, n = 100, changed = 50;
            int[] windows = new int[c.layers()];
            Arrays.fill(windows, w);
            // Each layer reaches w - 1 positions further back: position p depends on tokens from p - layers*(w-1).
            int independentFrom = changed + c.layers() * (w - 1);
            int[] a = randomTokens(n, c.vocabSize(), 9), b = a.clone();
            Random r = new Random(10);
            for (int i = 0; i < changed; i++) b[i] = (a[i] + 1 + r.nextInt(c.vocabSize() - 1)) % c.vocabSize();
            KvCachePool kv = m.newKvCachePool(8 << 20, windows);
            float[][] la = prefillAll(m, kv, a), lb = prefillAll(m, kv, b);
            for (int p = independentFrom; p < n; p++) assertArrayEquals(la[p], lb[p], "position " + p);
            assertFalse(Arrays.equals(la[changed - 1], lb[changed - 1]), "the changed tokens themselves differ");
            KvCachePool fullKv = m.newKvCachePool(8 << 20);
            assertFalse(
                    Arrays.equals(prefillAll(m, fullKv, a)[n - 1], prefillAll(m, fullKv, b)[n - 1]),
                    "with full attention the early tokens do matter");
        }
    }

    @Test
    void aChunkThatWouldReadReleasedPositionsIsRejected() throws Exception {
        try (LlamaModel m = LlamaModel.load(TestData.stories260KGguf(), ComputePool.defaultFactory(), 2)) {
            int[] windows = new int[m.config().layers()];
            Arrays.fill(windows, 16);
            KvCachePool kv = m.newKvCachePool(1 << 20, windows);
            KvCachePool.Sequence seq = kv.newSequence();
            kv.reserve(seq, 64);
            m.forward(new Batch().add(seq, 0, randomTokens(64, m.config().vocabSize(), 1)));
            // Positions 0..47 are gone; a token at p reads p-15.., so overwriting from 62 would read position 47.
            assertThrows(IllegalArgumentException.class, () -> m.forward(new Batch().add(seq, 62, 1)));
            assertEquals(64, seq.length());
            m.forward(new Batch().add(seq, 63, 1)); // reads 48..63: still held
            assertEquals(64, seq.length());
            kv.free(seq);
        }
    }
}
