package dev.anvil.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.TokenLogprob;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class CachedGenerationCodecTest {

    static TokenLogprob logprob(int token, String text, float lp) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        return new TokenLogprob(
                token,
                text,
                bytes,
                lp,
                List.of(
                        new TokenLogprob.Alternative(token, text, bytes, lp),
                        new TokenLogprob.Alternative(token + 1, "\uFFFD", new byte[] {(byte) 0xE2}, lp - 1.5f)));
    }

    /** Two prompts; the first with two choices (one with log-probabilities, an empty delta and non-ASCII text). */
    static CachedGeneration sample() {
        CachedGeneration.Choice a = new CachedGeneration.Choice(
                0,
                FinishReason.LENGTH,
                new int[] {5, 6, 7},
                List.of(
                        new CachedGeneration.Delta("Once", logprob(5, "Once", -0.25f)),
                        new CachedGeneration.Delta("", logprob(6, "\u00e9", -1f)),
                        new CachedGeneration.Delta(" upon \u00e9\u2603", logprob(7, " upon", -0f))));
        CachedGeneration.Choice b = new CachedGeneration.Choice(1, FinishReason.STOP, new int[] {2}, List.of());
        CachedGeneration.Choice c = new CachedGeneration.Choice(
                0, FinishReason.STOP, new int[] {9, 2}, List.of(new CachedGeneration.Delta("dog", null)));
        return new CachedGeneration(List.of(
                new CachedGeneration.Prompt(4, 4, 0, List.of(a, b)), new CachedGeneration.Prompt(3, 2, 1, List.of(c))));
    }

    static void assertSameGeneration(CachedGeneration expected, CachedGeneration actual) {
        assertEquals(expected.prompts().size(), actual.prompts().size());
        for (int p = 0; p < expected.prompts().size(); p++) {
            CachedGeneration.Prompt e = expected.prompts().get(p),
                    a = actual.prompts().get(p);
            assertEquals(e.promptTokens(), a.promptTokens());
            assertEquals(e.completionTokens(), a.completionTokens());
            assertEquals(e.cachedTokens(), a.cachedTokens());
            assertEquals(e.choices().size(), a.choices().size());
            for (int c = 0; c < e.choices().size(); c++) {
                CachedGeneration.Choice ec = e.choices().get(c),
                        ac = a.choices().get(c);
                assertEquals(ec.index(), ac.index());
                assertEquals(ec.finishReason(), ac.finishReason());
                assertArrayEquals(ec.tokens(), ac.tokens());
                assertEquals(ec.deltas().size(), ac.deltas().size());
                for (int d = 0; d < ec.deltas().size(); d++) {
                    CachedGeneration.Delta ed = ec.deltas().get(d),
                            ad = ac.deltas().get(d);
                    assertEquals(ed.text(), ad.text());
                    assertSameLogprob(ed.logprob(), ad.logprob());
                }
            }
        }
    }

    private static void assertSameLogprob(TokenLogprob e, TokenLogprob a) {
        if (e == null) {
            assertNull(a);
            return;
        }
        assertEquals(e.token(), a.token());
        assertEquals(e.text(), a.text());
        assertArrayEquals(e.bytes(), a.bytes());
        assertEquals(Float.floatToIntBits(e.logprob()), Float.floatToIntBits(a.logprob()));
        assertEquals(e.top().size(), a.top().size());
        for (int i = 0; i < e.top().size(); i++) {
            assertEquals(e.top().get(i).token(), a.top().get(i).token());
            assertEquals(e.top().get(i).text(), a.top().get(i).text());
            assertArrayEquals(e.top().get(i).bytes(), a.top().get(i).bytes());
            assertEquals(e.top().get(i).logprob(), a.top().get(i).logprob());
        }
    }

    @Test
    void roundTripKeepsEveryField() {
        CachedGeneration g = sample();
        assertSameGeneration(g, CachedGenerationCodec.decode(CachedGenerationCodec.encode(g)));
    }

    @Test
    void encodingIsStable() {
        assertArrayEquals(CachedGenerationCodec.encode(sample()), CachedGenerationCodec.encode(sample()));
    }

    @Test
    void otherLayoutsAndDamagedBytesAreRefused() {
        byte[] bytes = CachedGenerationCodec.encode(sample());
        byte[] otherLayout = bytes.clone();
        otherLayout[0] = (byte) (CachedGenerationCodec.LAYOUT + 1);
        assertThrows(IllegalArgumentException.class, () -> CachedGenerationCodec.decode(otherLayout));
        assertThrows(
                IllegalArgumentException.class,
                () -> CachedGenerationCodec.decode(Arrays.copyOf(bytes, bytes.length - 3)));
        assertThrows(
                IllegalArgumentException.class,
                () -> CachedGenerationCodec.decode(Arrays.copyOf(bytes, bytes.length + 1)));
        byte[] hugeCount = bytes.clone();
        hugeCount[1] = 0x7f; // prompt count far beyond the data
        assertThrows(IllegalArgumentException.class, () -> CachedGenerationCodec.decode(hugeCount));
        assertThrows(IllegalArgumentException.class, () -> CachedGenerationCodec.decode(new byte[0]));
    }

    @Test
    void resultsRebuildTextAndLogprobsFromTheDeltas() {
        CachedGeneration.Prompt first = sample().prompts().getFirst();
        GenerationResult with = first.toResult("r1", null, true);
        assertEquals("Once upon \u00e9\u2603", with.choices().get(0).text());
        assertEquals(3, with.choices().get(0).logprobs().size());
        assertEquals(List.of(), with.choices().get(1).logprobs());
        assertEquals(4, with.usage().promptTokens());
        assertEquals(4, with.usage().completionTokens());
        assertEquals(FinishReason.LENGTH, with.choices().get(0).finishReason());
        GenerationResult without = first.toResult("r2", null, false);
        assertNull(without.choices().get(0).logprobs(), "logprobs only when the request asked for them");
        assertArrayEquals(new int[] {5, 6, 7}, without.choices().get(0).tokens());
    }

    @Test
    void cancelledChoicesAreNotCacheable() {
        assertThrows(
                IllegalArgumentException.class,
                () -> new CachedGeneration.Choice(0, FinishReason.CANCELLED, new int[0], List.of()));
        GenerationResult cancelled = new GenerationResult(
                "r",
                null,
                List.of(
                        new GenerationResult.Choice(0, "a", new int[] {1}, FinishReason.STOP, null),
                        new GenerationResult.Choice(1, "b", new int[] {1}, FinishReason.CANCELLED, null)),
                null);
        assertEquals(false, CachedGeneration.complete(cancelled));
    }
}
