package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Stop strings, limits and end-of-sequence handling, with the stories260K vocabulary and forced tokens. */
class GenerationTest {

    static Tokenizer tokenizer;

    @BeforeAll
    static void loadTokenizer() throws Exception {
        try (GgufFile f = GgufFile.open(TestData.stories260KGguf())) {
            tokenizer = Tokenizer.fromGguf(f);
        }
    }

    /** Feeds the tokens of {@code text} one by one; returns the concatenated emitted text. */
    static String feed(Generation g, String text) {
        StringBuilder out = new StringBuilder();
        for (int t : tokenizer.encode(text, false)) {
            if (g.finished()) break;
            out.append(g.accept(t, null).text());
        }
        return out.toString();
    }

    @Test
    void stopStringEndsGenerationAndIsNotEmitted() {
        Generation g =
                new Generation(tokenizer, new int[] {tokenizer.bos()}, SamplingParams.GREEDY, 100, List.of("the park"));
        String out = feed(g, "She went to the park and played.");
        assertEquals("She went to ", out);
        assertEquals(Generation.FinishReason.STOP_STRING, g.finishReason());
        assertEquals(out, g.text());
    }

    @Test
    void textThatMightStartAStopStringIsHeldBackThenReleased() {
        Generation g =
                new Generation(tokenizer, new int[] {tokenizer.bos()}, SamplingParams.GREEDY, 100, List.of("the cat"));
        int[] ids = tokenizer.encode("She saw the dog.", false);
        StringBuilder out = new StringBuilder();
        boolean checkedHold = false;
        for (int i = 0; i < ids.length; i++) {
            out.append(g.accept(ids[i], null).text());
            if (tokenizer.decode(java.util.Arrays.copyOf(ids, i + 1)).endsWith("the")) {
                assertEquals("She saw ", out.toString(), "\"the\" may start the stop string: held back");
                checkedHold = true;
            }
        }
        assertTrue(checkedHold);
        assertFalse(g.finished());
        assertEquals("She saw the dog.", out.toString(), "released once it cannot be the stop string");
    }

    @Test
    void maxTokensFinishesWithLength() {
        Generation g = new Generation(tokenizer, new int[] {tokenizer.bos()}, SamplingParams.GREEDY, 3, List.of());
        int[] ids = tokenizer.encode("One day, she saw a big ball.", false);
        String out = "";
        for (int i = 0; i < 3; i++) out += g.accept(ids[i], null).text();
        assertEquals(Generation.FinishReason.MAX_TOKENS, g.finishReason());
        assertEquals(tokenizer.decode(java.util.Arrays.copyOf(ids, 3)), out);
        assertThrows(IllegalStateException.class, () -> g.accept(ids[3], null));
    }

    @Test
    void endOfSequenceTokenFinishesWithoutText() {
        Generation g = new Generation(tokenizer, new int[] {tokenizer.bos()}, SamplingParams.GREEDY, 10, List.of());
        feed(g, "Hi");
        Generation.Step s = g.accept(tokenizer.eos(), null);
        assertEquals(Generation.FinishReason.END_OF_SEQUENCE, s.finish());
        assertEquals("", s.text());
        assertEquals("Hi", g.text());
    }

    @Test
    void sampledStepsUseTheHistoryForPenalties() {
        // Logits favour token 300 slightly; with a strong presence penalty and 300 in the prompt, 301 wins.
        float[] logits = new float[tokenizer.vocabSize()];
        logits[300] = 2f;
        logits[301] = 1.9f;
        Generation plain = new Generation(tokenizer, new int[] {1, 300}, SamplingParams.GREEDY, 5, List.of());
        assertEquals(300, plain.next(logits).token());
        Generation penalised = new Generation(
                tokenizer, new int[] {1, 300}, SamplingParams.GREEDY.withPresencePenalty(1f), 5, List.of());
        assertEquals(301, penalised.next(logits).token());
        assertEquals(1, penalised.generatedCount());
    }
}
