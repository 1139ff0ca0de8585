package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Streaming detokenization: never half a character, U+FFFD only for bytes that are certainly invalid. */
class TokenDecoderTest {

    private static int byteToken(int b) {
        return 3 + b; // <0x00>..<0xFF> sit at ids 3..258 in Llama 2 style vocabularies
    }

    /** Feeds tokens one by one; returns each step's output, then the flush output last. */
    private static List<String> stream(TokenDecoder decoder, int[] ids) {
        List<String> outputs = new ArrayList<>();
        for (int id : ids) outputs.add(decoder.accept(id));
        outputs.add(decoder.flush());
        return outputs;
    }

    private static void assertWholeCharacters(String piece) {
        for (int i = 0; i < piece.length(); i++) {
            char c = piece.charAt(i);
            if (Character.isHighSurrogate(c)) {
                assertTrue(
                        i + 1 < piece.length() && Character.isLowSurrogate(piece.charAt(i + 1)),
                        "half a surrogate pair in '" + piece + "'");
                i++;
            } else {
                assertFalse(Character.isLowSurrogate(c), "lone low surrogate in '" + piece + "'");
            }
            assertTrue(c != '\uFFFD', "replacement character in '" + piece + "'");
        }
    }

    @Test
    void emojiSplitIntoByteTokensComesOutWhole() throws IOException {
        Tokenizer spm = TokenizerTest.vocab("llama-spm");
        int[] ids = spm.encode("🙂", false);
        // "▁" then the four UTF-8 bytes of U+1F642 as byte-fallback tokens
        assertEquals(5, ids.length);
        TokenDecoder decoder = new TokenDecoder(spm);
        assertEquals(" ", decoder.accept(ids[0]));
        assertEquals("", decoder.accept(ids[1]));
        assertEquals("", decoder.accept(ids[2]));
        assertTrue(decoder.hasPendingBytes());
        assertEquals("", decoder.accept(ids[3]));
        assertEquals("🙂", decoder.accept(ids[4]));
        assertFalse(decoder.hasPendingBytes());
        assertEquals("", decoder.flush());
    }

    @Test
    void everyStepIsWholeCharactersForBothVocabularies() throws IOException {
        String text = "日本語 🙂 naïve café 👨‍👩‍👧 ქართული 😁 ?我想在apple工作1314151天～";
        for (String name : List.of("llama-spm", "gpt-2")) {
            Tokenizer tokenizer = TokenizerTest.vocab(name);
            int[] ids = tokenizer.encode(text, tokenizer.addBosByDefault());
            StringBuilder joined = new StringBuilder();
            int emptySteps = 0;
            for (String piece : stream(new TokenDecoder(tokenizer, true), ids)) {
                assertWholeCharacters(piece);
                if (piece.isEmpty()) emptySteps++;
                joined.append(piece);
            }
            assertEquals(text, joined.toString(), name);
            assertTrue(emptySteps > 1, name + ": the text should contain characters split across tokens");
        }
    }

    @Test
    void gpt2ByteLevelPiecesOfCjkAreHeldBack() throws IOException {
        Tokenizer gpt2 = TokenizerTest.vocab("gpt-2");
        // From llama.cpp's vectors: "ក" (bytes E1 9E 80) is tokens 157 252 222, one byte or less each
        int[] ids = gpt2.encode("ក", false);
        assertEquals(
                List.of(157, 252, 222), java.util.Arrays.stream(ids).boxed().toList());
        TokenDecoder decoder = new TokenDecoder(gpt2);
        assertEquals("", decoder.accept(ids[0]));
        assertEquals("", decoder.accept(ids[1]));
        assertEquals("ក", decoder.accept(ids[2]));
    }

    @Test
    void dummySpaceIsStrippedOnlyAfterBosOrAtTextStart() throws IOException {
        Tokenizer spm = TokenizerTest.vocab("llama-spm");
        int hello = 15043; // "▁Hello"
        TokenDecoder afterBos = new TokenDecoder(spm);
        assertEquals("", afterBos.accept(spm.bos()));
        assertEquals("Hello", afterBos.accept(hello));
        assertEquals(" Hello", afterBos.accept(hello));
        assertEquals("", afterBos.accept(spm.bos()));
        assertEquals(" Hello", afterBos.accept(hello), "only the text's first token loses its dummy space");

        TokenDecoder continuation = new TokenDecoder(spm);
        assertEquals(" Hello", continuation.accept(hello), "a generated token after a prompt keeps its space");

        TokenDecoder textStart = new TokenDecoder(spm, true);
        assertEquals("Hello", textStart.accept(hello));

        Tokenizer gpt2 = TokenizerTest.vocab("gpt-2");
        assertEquals(" Hello", new TokenDecoder(gpt2, true).accept(18435), "byte-level BPE adds no dummy prefix");
    }

    @Test
    void certainlyInvalidBytesBecomeReplacementCharacters() throws IOException {
        Tokenizer spm = TokenizerTest.vocab("llama-spm");
        TokenDecoder decoder = new TokenDecoder(spm);
        assertEquals("\uFFFD", decoder.accept(byteToken(0x80)), "continuation byte without a lead");
        assertEquals("", decoder.accept(byteToken(0xE6)), "a lead byte may still be completed");
        assertEquals("\uFFFDA", decoder.accept(byteToken('A')), "lead byte followed by ASCII");
        assertEquals("", decoder.accept(byteToken(0xF0)));
        assertEquals("", decoder.accept(byteToken(0x9F)));
        assertEquals("\uFFFD", decoder.accept(byteToken(0xC3)), "F0 9F cut short by C3, which starts a new character");
        assertEquals("\uFFFD\uFFFD", decoder.accept(byteToken(0xFF)), "C3 cut short by FF, and FF is never valid");
        assertEquals("", decoder.accept(byteToken(0xE2)));
        assertEquals("\uFFFD", decoder.flush(), "an unfinished character at the end of the stream");
        assertEquals("", decoder.flush());
    }

    @Test
    void utf8DecoderReplacesMaximalSubparts() {
        assertEquals("\uFFFDA", decode(0xF0, 0x9F, 0x98, 'A'));
        assertEquals("\uFFFD\uFFFD", decode(0xE0, 0x80), "overlong lead E0 needs A0..BF next");
        assertEquals("\uFFFD\uFFFD\uFFFD", decode(0xED, 0xA0, 0x80), "UTF-16 surrogates are not valid UTF-8");
        assertEquals("\uFFFD\uFFFD\uFFFD\uFFFD", decode(0xF4, 0x90, 0x80, 0x80), "above U+10FFFF");
        assertEquals("\uFFFD\uFFFD", decode(0xC0, 0xAF), "C0 is never valid");
        assertEquals("é😀", decode(0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80));
        StringBuilder out = new StringBuilder();
        byte[] partial = {(byte) 'x', (byte) 0xF0, (byte) 0x9F};
        assertEquals(1, TokenDecoder.decodeUtf8(partial, partial.length, out, false), "incomplete tail stays pending");
        assertEquals("x", out.toString());
    }

    private static String decode(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) bytes[i];
        StringBuilder out = new StringBuilder();
        assertEquals(b.length, TokenDecoder.decodeUtf8(b, b.length, out, true));
        return out.toString();
    }

    @Test
    void controlTokensProduceNoText() throws IOException {
        Tokenizer gpt2 = TokenizerTest.vocab("gpt-2");
        TokenDecoder decoder = new TokenDecoder(gpt2);
        assertEquals("", decoder.accept(50256));
        assertEquals("Hello", decoder.accept(15496));
    }
}
