package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link WordPieceTokenizer} on the {@code bert-bge} vocabulary of {@code reference/arch/bert-f16.gguf}, for the
 * rules llama.cpp's {@code llm_tokenizer_wpm} applies beyond the four reference prompts of
 * {@link BertReferenceTest}. The expected ids are llama.cpp's own: {@code llama-tokenize -m bert-f16.gguf -p TEXT
 * --ids} (the build of docs/BENCHMARKS.md; {@code --no-parse-special} for the case with control-token texts, and the
 * lone surrogate as the invalid UTF-8 {@code ED A0 80} from a file), which an independent Python transcription of the
 * rules over Python's {@code unicodedata} also gives.
 */
class WordPieceTokenizerTest {

    static GgufFile file;
    static Tokenizer tokenizer;

    @BeforeAll
    static void open() throws IOException {
        file = GgufFile.open(TestData.sharedDir().resolve("reference/arch/bert-f16.gguf"));
        tokenizer = Tokenizer.fromGguf(file);
    }

    @AfterAll
    static void close() {
        file.close();
    }

    static List<Arguments> cases() {
        return List.of(
                // lowercased; punctuation is a word of its own
                Arguments.of("Hello, WORLD!", new int[] {101, 7592, 1010, 2088, 999, 102}),
                // accents stripped through NFD (first code point kept, marks dropped)
                Arguments.of("naïve Café Ångström", new int[] {101, 15743, 7668, 17076, 15687, 102}),
                // CJK ideographs split one by one; Hangul syllables decompose to their first jamo
                Arguments.of("日本語 and 한국어", new int[] {101, 1864, 1876, 1950, 1998, 1469, 29991, 29999, 102}),
                // a zero-width space (format character) is dropped, tab and ideographic space split
                Arguments.of("a\u200bb x\ty\u3000z", new int[] {101, 11113, 1060, 1061, 1062, 102}),
                // control-token texts are plain text; ASCII symbols split
                Arguments.of("[CLS] 1+1=2 $5 ~ok", new int[] {
                    101, 1031, 18856, 2015, 1033, 1015, 1009, 1015, 1027, 1016, 1002, 1019, 1066, 7929, 102
                }),
                // greedy longest match from the left
                Arguments.of(
                        "supercalifragilisticexpialidocious",
                        new int[] {101, 3565, 9289, 10128, 29181, 24411, 4588, 10288, 19312, 21273, 10085, 6313, 102}),
                // a word with an unmatched position becomes [UNK] as a whole
                Arguments.of("emoji \uD83D\uDE00 done", new int[] {101, 7861, 29147, 2072, 100, 2589, 102}),
                // simple lowercase mapping (İ -> i), Greek
                Arguments.of(
                        "İstanbul ΣΊΣΥΦΟΣ", new int[] {101, 9960, 1173, 18199, 29733, 29735, 29736, 29730, 29733, 102}),
                // nothing but white space: just the frame
                Arguments.of(" \n\t ", new int[] {101, 102}));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void tokenizesAsLlamaCppsRules(String text, int[] expected) {
        assertArrayEquals(expected, tokenizer.encode(text, true, false), text);
    }

    @Test
    void specialTokenTextsAreRecognisedOnlyWhenAsked() {
        assertArrayEquals(new int[] {102, 1998}, tokenizer.encode("[SEP]and", false, true));
        assertArrayEquals(new int[] {1031, 19802, 1033}, tokenizer.encode("[SEP]", false, false)); // ▁[ ▁sep ▁]
    }

    @Test
    void decodesWordsWithSpacesBetween() {
        int[] ids = tokenizer.encode("Hello, world", false, false);
        assertEquals("hello , world", tokenizer.decode(ids));
        assertEquals("", tokenizer.decode(new int[] {101, 102}));
    }

    @Test
    void aLoneSurrogateIsDroppedLikeInvalidUtf8() {
        assertArrayEquals(tokenizer.encode("ab", true, false), tokenizer.encode("a\uD800b", true, false));
    }
}
