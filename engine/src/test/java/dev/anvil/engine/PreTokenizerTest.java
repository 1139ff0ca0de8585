package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The hand-written BPE pre-tokenizers against java.util.regex running the very regexes llama.cpp names, with
 * Unicode classes ({@code \s} = White_Space, {@code \p{L}}, {@code \p{N}}): same words on the llama.cpp test
 * texts and on random strings built from the characters where the rules differ.
 */
class PreTokenizerTest {

    private static final int FLAGS = Pattern.UNICODE_CHARACTER_CLASS | Pattern.UNICODE_CASE;
    private static final Pattern GPT2 = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", FLAGS);
    private static final Pattern LLAMA3 = Pattern.compile(
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
            FLAGS);
    private static final Pattern QWEN2 = Pattern.compile(
            "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
            FLAGS);

    /** Letters (Latin, accented, CJK, Greek, letter-like marks), numbers (Nd, Nl, No), spaces of several kinds, quotes, symbols. */
    private static final String[] ALPHABET = {
        "a", "Z", "s", "t", "r", "e", "l", "d", "m", "v", "S", "T", "R", "E", "L", "D", "é", "日", "Ω", "ß", "ǅ", "3",
        "0", "٣", "Ⅻ", "½", "²", " ", " ", " ", "\t", "\n", "\r", "\u00A0", "\u3000", "\u2009", "\u0085", "'", "!", ".",
        "-", "_", "$", "🙂", "😁", "\u0301", "\u200D", "\uFE0F", "\u0000", "ǃ"
    };

    private static List<String> regexWords(Pattern pattern, String text) {
        // llama.cpp keeps unmatched stretches as words too; these rules match everything, but stay faithful.
        List<String> words = new ArrayList<>();
        Matcher m = pattern.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.start() > last) words.add(text.substring(last, m.start()));
            words.add(m.group());
            last = m.end();
        }
        if (last < text.length()) words.add(text.substring(last));
        return words;
    }

    private static List<String> scannerWords(BiConsumer<int[], Tokenizer.IntList> scanner, String text) {
        int[] cps = text.codePoints().toArray();
        Tokenizer.IntList ends = new Tokenizer.IntList();
        scanner.accept(cps, ends);
        List<String> words = new ArrayList<>();
        int start = 0;
        for (int w = 0; w < ends.size(); w++) {
            words.add(new String(cps, start, ends.get(w) - start));
            start = ends.get(w);
        }
        assertEquals(cps.length, start, "words must cover the text");
        return words;
    }

    private static List<String> texts() throws IOException {
        List<String> texts = new ArrayList<>(TokenizerTest.ROUND_TRIP_TEXTS);
        texts.addAll(TokenizerTest.vocabTestTexts(
                TokenizerTest.sharedDir().resolve("reference/tokenizer/ggml-vocab-gpt-2.gguf.inp")));
        Random random = new Random(20261122);
        for (int i = 0; i < 20_000; i++) {
            StringBuilder text = new StringBuilder();
            int length = 1 + random.nextInt(12);
            for (int j = 0; j < length; j++) text.append(ALPHABET[random.nextInt(ALPHABET.length)]);
            texts.add(text.toString());
        }
        return texts;
    }

    private static void assertSameWords(Pattern pattern, BiConsumer<int[], Tokenizer.IntList> scanner)
            throws IOException {
        for (String text : texts()) {
            assertEquals(regexWords(pattern, text), scannerWords(scanner, text), () -> "text '" + escape(text) + "'");
        }
    }

    private static String escape(String text) {
        StringBuilder out = new StringBuilder();
        text.codePoints()
                .forEach(cp ->
                        out.append(cp < 0x20 || cp > 0x7E ? String.format("\\u{%X}", cp) : Character.toString(cp)));
        return out.toString();
    }

    @Test
    void gpt2ScannerMatchesRegex() throws IOException {
        assertSameWords(GPT2, (cps, ends) -> ByteLevelBpeTokenizer.splitGpt2(cps, 0, cps.length, ends));
    }

    @Test
    void llama3ScannerMatchesRegex() throws IOException {
        assertSameWords(LLAMA3, (cps, ends) -> ByteLevelBpeTokenizer.splitLlama3(cps, 0, cps.length, 3, ends));
    }

    @Test
    void qwen2ScannerMatchesRegex() throws IOException {
        assertSameWords(QWEN2, (cps, ends) -> ByteLevelBpeTokenizer.splitLlama3(cps, 0, cps.length, 1, ends));
    }

    /** llama.cpp's regex lists for the chained pre-tokenizers, every step as a regex. */
    private static final Map<ByteLevelBpeTokenizer.PreTokenizer, List<Pattern>> CHAINS = Map.of(
            ByteLevelBpeTokenizer.PreTokenizer.DIGITS_THEN_GPT2, List.of(Pattern.compile("\\p{N}", FLAGS), GPT2),
            ByteLevelBpeTokenizer.PreTokenizer.FALCON,
                    List.of(
                            Pattern.compile("[\\p{P}\\$\\+<=>\\^~\\|`]+", FLAGS),
                            GPT2,
                            Pattern.compile("[0-9][0-9][0-9]", FLAGS)),
            ByteLevelBpeTokenizer.PreTokenizer.DEFAULT,
                    List.of(
                            Pattern.compile("[\\p{P}\\$\\+<=>\\^~\\|]+", FLAGS),
                            GPT2,
                            Pattern.compile("\\p{N}+", FLAGS),
                            Pattern.compile("[0-9][0-9][0-9]", FLAGS)));

    @Test
    void chainedPreTokenizersMatchTheirRegexChains() throws IOException {
        List<String> texts = texts();
        texts.addAll(List.of("x12345 a+b=c|d^e~f$g `code` 1,234,567.89", "٣٤٥٦ and ⅫⅫ and 3½"));
        for (Map.Entry<ByteLevelBpeTokenizer.PreTokenizer, List<Pattern>> chain : CHAINS.entrySet()) {
            for (String text : texts) {
                List<String> expected = List.of(text);
                for (Pattern step : chain.getValue()) {
                    List<String> refined = new ArrayList<>();
                    for (String piece : expected) if (!piece.isEmpty()) refined.addAll(regexWords(step, piece));
                    expected = refined;
                }
                assertEquals(
                        expected,
                        scannerWords(
                                (cps, ends) -> {
                                    Tokenizer.IntList words = chain.getKey().split(cps);
                                    for (int i = 0; i < words.size(); i++) ends.add(words.get(i));
                                },
                                text),
                        () -> chain.getKey() + " on '" + escape(text) + "'");
            }
        }
    }

    @Test
    void knownSplits() {
        assertEquals(
                List.of("Hello", ",", " y", "'", "all", "!", " I", "'ve", "  ", " spaces", "\n\n"),
                scannerWords(
                        (cps, ends) -> ByteLevelBpeTokenizer.splitGpt2(cps, 0, cps.length, ends),
                        "Hello, y'all! I've   spaces\n\n"));
        assertEquals(
                List.of("Hello", ",", " y", "'all", "!", " I", "'VE", "  ", " spaces", "\n\n", "123", "456", "7"),
                scannerWords(
                        (cps, ends) -> ByteLevelBpeTokenizer.splitLlama3(cps, 0, cps.length, 3, ends),
                        "Hello, y'all! I'VE   spaces\n\n1234567"));
    }
}
