package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The real trained stories260K model: its published greedy sample, and GGUF vs llama2.c checkpoint. */
class Stories260KTest {

    /** From karpathy/llama2.c doc/stories260K.md (see shared/models/SOURCES.md): greedy decoding from BOS. */
    static final String PUBLISHED_PREFIX =
            "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                    + "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said, ";

    static final String PUBLISHED_END = "Her mom said, \"Don't worry, Lily. We can help you.";

    @Test
    void greedyFromBosReproducesThePublishedSample() throws Exception {
        try (LlamaModel model = LlamaModel.load(TestData.stories260KGguf(), ComputePool.defaultFactory(), 2)) {
            String text = greedy(model, 256);
            assertTrue(text.startsWith(PUBLISHED_PREFIX), "got: " + text);
            assertTrue(text.endsWith(PUBLISHED_END), "got: " + text);
        }
    }

    @Test
    void llama2cCheckpointGivesIdenticalLogitsAndText() throws Exception {
        try (LlamaModel gguf = LlamaModel.load(TestData.stories260KGguf(), ComputePool.defaultFactory(), 2);
                LlamaModel bin = LlamaModel.load(TestData.stories260KBin(), ComputePool.defaultFactory(), 2)) {
            assertEquals(gguf.config().dim(), bin.config().dim());
            assertEquals(gguf.config().kvHeads(), bin.config().kvHeads());
            assertTrue(bin.config().tiedEmbeddings());
            int[] prompt = gguf.tokenizer().encode("Once upon a time, there was a little dog", true);
            assertArrayEquals(
                    prompt,
                    bin.tokenizer().encode("Once upon a time, there was a little dog", true),
                    "tok512.bin tokenizes like the GGUF vocabulary");
            KvCachePool kvA = gguf.newKvCachePool(1 << 20), kvB = bin.newKvCachePool(1 << 20);
            KvCachePool.Sequence a = kvA.newSequence(), b = kvB.newSequence();
            kvA.reserve(a, prompt.length);
            kvB.reserve(b, prompt.length);
            ForwardResult ra = gguf.forward(new Batch().add(new Batch.Entry(a, 0, prompt, true)));
            ForwardResult rb = bin.forward(new Batch().add(new Batch.Entry(b, 0, prompt, true)));
            for (int i = 0; i < prompt.length; i++)
                assertArrayEquals(ra.logits(0, i), rb.logits(0, i), "position " + i);
            assertEquals(greedy(gguf, 60), greedy(bin, 60));
        }
    }

    /** Greedy generation from BOS through {@link Generation}, the path the CLI and server use. */
    static String greedy(LlamaModel model, int steps) throws KvCacheFullException {
        KvCachePool kv = model.newKvCachePool(4 << 20);
        KvCachePool.Sequence seq = kv.newSequence();
        int bos = model.tokenizer().bos();
        Generation gen = new Generation(model.tokenizer(), new int[] {bos}, SamplingParams.GREEDY, steps, List.of());
        kv.reserve(seq, 1);
        float[] logits = model.forward(new Batch().add(seq, 0, bos)).logits(0);
        StringBuilder text = new StringBuilder();
        while (true) {
            Generation.Step step = gen.next(logits);
            text.append(step.text());
            if (step.finished()) break;
            kv.reserve(seq, seq.length() + 1);
            logits = model.forward(new Batch().add(seq, seq.length(), step.token()))
                    .logits(0);
        }
        kv.free(seq);
        assertEquals(0, kv.usedBlocks());
        return text.toString();
    }
}
