package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Tokenizers against llama.cpp: its vocabulary test vectors and the prompt tokens of the reference runs. */
class TokenizerTest {

    /** The shared reference data; a missing directory fails the test run rather than skipping it. */
    static Path sharedDir() {
        String configured = System.getProperty("anvil.shared.dir");
        if (configured == null)
            fail("system property anvil.shared.dir is not set (the engine pom sets it for surefire)");
        Path dir = Path.of(configured);
        if (!Files.isDirectory(dir.resolve("reference"))) {
            fail("shared reference data not found at " + dir.toAbsolutePath() + " (anvil.shared.dir)");
        }
        return dir;
    }

    static Tokenizer load(Path gguf) throws IOException {
        try (GgufFile file = GgufFile.open(gguf)) {
            return Tokenizer.fromGguf(file);
        }
    }

    static Tokenizer vocab(String name) throws IOException {
        return load(sharedDir().resolve("reference/tokenizer/ggml-vocab-" + name + ".gguf"));
    }

    /**
     * The texts of a llama.cpp {@code .inp} file: each text is followed by a line {@code __ggml_vocab_test__},
     * so splitting on "\n__ggml_vocab_test__\n" leaves one empty remainder after the last separator.
     */
    static List<String> vocabTestTexts(Path inp) throws IOException {
        String content = Files.readString(inp);
        List<String> texts = new ArrayList<>(Arrays.asList(content.split("\n__ggml_vocab_test__\n", -1)));
        String rest = texts.removeLast();
        assertEquals("", rest, "text after the last separator in " + inp);
        return texts;
    }

    static int[] parseIds(String line) {
        String trimmed = line.trim();
        if (trimmed.isEmpty()) return new int[0];
        return Arrays.stream(trimmed.split(" +")).mapToInt(Integer::parseInt).toArray();
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-spm", "gpt-2"})
    void llamaCppVocabularyVectorsAllPass(String name) throws IOException {
        Path base = sharedDir().resolve("reference/tokenizer/ggml-vocab-" + name + ".gguf");
        List<String> texts = vocabTestTexts(Path.of(base + ".inp"));
        List<String> expected = Files.readAllLines(Path.of(base + ".out"));
        assertEquals(expected.size(), texts.size(), "texts in .inp vs lines in .out");
        assertTrue(texts.size() > 40, "expected the full llama.cpp vector set, got " + texts.size());
        Tokenizer tokenizer = load(base);
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            int[] want = parseIds(expected.get(i));
            int[] got = tokenizer.encode(texts.get(i), false);
            if (!Arrays.equals(want, got)) {
                failures.add("case " + i + " '" + texts.get(i) + "': expected " + Arrays.toString(want) + " got "
                        + Arrays.toString(got));
            }
        }
        assertEquals(List.of(), failures);
    }

    @Test
    void referencePromptTokensMatchLlamaCpp() throws IOException {
        Path outputs = sharedDir().resolve("reference/outputs");
        List<Path> runs;
        try (Stream<Path> files = Files.list(outputs)) {
            runs = files.filter(p -> p.toString().endsWith(".jsonl")).sorted().toList();
        }
        assertTrue(runs.size() >= 6, "expected the reference runs in " + outputs + ", found " + runs);
        int prompts = 0;
        for (Path run : runs) {
            String model = run.getFileName().toString().replace(".jsonl", ".gguf");
            Path gguf = sharedDir().resolve("reference/models").resolve(model);
            if (!Files.exists(gguf)) gguf = sharedDir().resolve("models").resolve(model);
            Tokenizer tokenizer = load(gguf);
            for (String line : Files.readAllLines(run)) {
                if (line.isBlank()) continue;
                JsonObject record = TestData.json(line);
                String prompt = record.getString("prompt");
                int[] want = record.getJsonArray("prompt_tokens").getValuesAs(JsonNumber::intValue).stream()
                        .mapToInt(Integer::intValue)
                        .toArray();
                // The runs asked for special tokens ("add_bos"); whether BOS is added is the vocabulary's rule.
                assertEquals(JsonValue.TRUE, record.get("add_bos"));
                int[] got = tokenizer.encode(prompt, tokenizer.addBosByDefault());
                assertArrayEquals(want, got, run.getFileName() + ": prompt '" + prompt + "'");
                prompts++;
            }
        }
        assertTrue(prompts >= 24, "only " + prompts + " prompts checked");
    }

    @Test
    void bosRuleFollowsLlamaCppDefaults() throws IOException {
        assertTrue(vocab("llama-spm").addBosByDefault());
        assertFalse(vocab("gpt-2").addBosByDefault(), "gpt2 without add_bos_token adds no BOS in llama.cpp");
        Tokenizer spm = vocab("llama-spm");
        assertEquals(1, spm.encode("Hello", true)[0]);
        assertArrayEquals(new int[] {15043}, spm.encode("Hello", false));
        assertArrayEquals(new int[0], spm.encode("", false));
        assertArrayEquals(new int[] {1}, spm.encode("", true));
    }

    static final List<String> ROUND_TRIP_TEXTS = List.of(
            "",
            " ",
            "  ",
            "\n",
            "\t\n",
            "Hello world",
            " Hello world",
            "  two leading spaces",
            "trailing spaces  ",
            "Once upon a time, there was a little girl named Lily.",
            "Ünïcödé naïve café — 日本語 🙂 and 👍🏽 and 👨‍👩‍👧",
            "line one\nline two\r\n\ttabbed",
            "<s> literal </s> and <|endoftext|> as plain text",
            "ქართული ენა, Ελληνικά, עברית, العربية, हिन्दी",
            "1234567890 3.14159 1,000,000",
            "I've been 'told he's there, 'RE you sure?",
            "a\u0301\u0302 combining marks");

    @ParameterizedTest
    @ValueSource(strings = {"llama-spm", "gpt-2"})
    void decodeOfEncodeIsIdentity(String name) throws IOException {
        Tokenizer tokenizer = vocab(name);
        List<String> texts = new ArrayList<>(ROUND_TRIP_TEXTS);
        texts.addAll(vocabTestTexts(sharedDir().resolve("reference/tokenizer/ggml-vocab-" + name + ".gguf.inp")));
        for (String text : texts) {
            assertEquals(text, tokenizer.decode(tokenizer.encode(text, false)), "without BOS");
            assertEquals(text, tokenizer.decode(tokenizer.encode(text, true)), "with BOS");
        }
    }

    @Test
    void decodeOfEncodeIsIdentityWithTinyVocabularyAndByteFallback() throws IOException {
        Tokenizer tokenizer = load(sharedDir().resolve("models/stories260K.gguf"));
        for (String text : ROUND_TRIP_TEXTS) {
            assertEquals(text, tokenizer.decode(tokenizer.encode(text, true)));
        }
        // 512 tokens cannot cover CJK: those characters come out as <0xXX> byte tokens (ids 3..258).
        int[] ids = tokenizer.encode("日", false);
        byte[] utf8 = "日".getBytes(StandardCharsets.UTF_8);
        int[] bytes = Arrays.copyOfRange(ids, ids.length - utf8.length, ids.length);
        for (int i = 0; i < utf8.length; i++) assertEquals(3 + (utf8[i] & 0xFF), bytes[i]);
    }

    @Test
    void controlTokensAreParsedOnlyWhenAskedFor() throws IOException {
        Tokenizer spm = vocab("llama-spm");
        // After a special token llama.cpp prefixes a space again, hence "▁Hello" (15043).
        assertArrayEquals(new int[] {1, 15043, 2}, spm.encodeWithSpecials("<s>Hello</s>", false));
        int[] plain = spm.encode("<s>Hello</s>", false);
        assertFalse(Arrays.stream(plain).anyMatch(id -> id == 1 || id == 2), Arrays.toString(plain));
        assertEquals("<s>Hello</s>", spm.decode(plain));

        Tokenizer gpt2 = vocab("gpt-2");
        int[] withSpecial = gpt2.encodeWithSpecials("Hi<|endoftext|>there", false);
        assertArrayEquals(new int[] {17250, 50256, 8117}, withSpecial);
        int[] asText = gpt2.encode("Hi<|endoftext|>there", false);
        assertFalse(Arrays.stream(asText).anyMatch(id -> id == 50256), Arrays.toString(asText));
        assertEquals("Hi<|endoftext|>there", gpt2.decode(asText));
        assertEquals("Hithere", gpt2.decode(withSpecial), "control tokens render as nothing");
    }

    @Test
    void tokenBytesAndSpecialIds() throws IOException {
        Tokenizer spm = vocab("llama-spm");
        assertEquals(32000, spm.vocabSize());
        assertEquals(1, spm.bos());
        assertEquals(2, spm.eos());
        assertArrayEquals(" Hello".getBytes(StandardCharsets.UTF_8), spm.tokenBytes(15043));
        assertArrayEquals(new byte[] {(byte) 0xE6}, spm.tokenBytes(3 + 0xE6));
        assertEquals("<0xE6>", spm.tokenText(3 + 0xE6));
        assertArrayEquals(new byte[0], spm.tokenBytes(1));
        assertTrue(spm.isEndOfGeneration(2));
        assertFalse(spm.isEndOfGeneration(1));
        assertFalse(spm.isEndOfGeneration(15043));
        assertThrows(IllegalArgumentException.class, () -> spm.tokenBytes(32000));

        Tokenizer gpt2 = vocab("gpt-2");
        assertEquals(50257, gpt2.vocabSize());
        assertEquals("ĠHello", gpt2.tokenText(18435));
        assertArrayEquals(" Hello".getBytes(StandardCharsets.UTF_8), gpt2.tokenBytes(18435));
        assertArrayEquals(new byte[] {'\n'}, gpt2.tokenBytes(198));
        assertArrayEquals(new byte[0], gpt2.tokenBytes(50256));
        assertTrue(gpt2.isEndOfGeneration(50256));
        assertFalse(gpt2.isEndOfGeneration(198));
    }

    @Test
    void factoryPicksImplementationAndRejectsUnknownModels(@TempDir Path dir) throws IOException {
        assertInstanceOf(SentencePieceTokenizer.class, vocab("llama-spm"));
        assertInstanceOf(ByteLevelBpeTokenizer.class, vocab("gpt-2"));

        Path t5 = dir.resolve("t5.gguf");
        Files.write(t5, ggufWithStrings(Map.of("tokenizer.ggml.model", "t5")));
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class, () -> load(t5));
        assertTrue(e.getMessage().contains("'t5'"), e.getMessage());
        // bert (WordPiece) is recognised: what is missing is its vocabulary.
        Path bert = dir.resolve("bert.gguf");
        Files.write(bert, ggufWithStrings(Map.of("tokenizer.ggml.model", "bert")));
        e = assertThrows(UnsupportedModelException.class, () -> load(bert));
        assertTrue(e.getMessage().contains("tokenizer.ggml.tokens is missing"), e.getMessage());

        Path none = dir.resolve("none.gguf");
        Files.write(none, ggufWithStrings(Map.of("general.architecture", "llama")));
        e = assertThrows(UnsupportedModelException.class, () -> load(none));
        assertTrue(e.getMessage().contains("tokenizer.ggml.model"), e.getMessage());

        Path oddPre = dir.resolve("pre.gguf");
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("tokenizer.ggml.model", "gpt2");
        metadata.put("tokenizer.ggml.pre", "made-up-pre");
        metadata.put("tokenizer.ggml.tokens", new String[] {"a", "b", "ab"});
        metadata.put("tokenizer.ggml.merges", new String[] {"a b"});
        Files.write(oddPre, ggufWithStrings(metadata));
        e = assertThrows(UnsupportedModelException.class, () -> load(oddPre));
        assertTrue(e.getMessage().contains("'made-up-pre'"), e.getMessage());
    }

    /** A byte-level vocabulary: the 256 GPT-2 byte characters (id = byte value), then {@code extra}. */
    static Map<String, Object> byteLevelVocabulary(String pre, String[] extra, String[] merges) {
        List<String> tokens = new ArrayList<>();
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            tokens.add(String.valueOf((char) (printable ? b : next++)));
        }
        tokens.addAll(List.of(extra));
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("tokenizer.ggml.model", "gpt2");
        metadata.put("tokenizer.ggml.pre", pre);
        metadata.put("tokenizer.ggml.tokens", tokens.toArray(String[]::new));
        metadata.put("tokenizer.ggml.merges", merges);
        return metadata;
    }

    @Test
    void llama3AndSmollmPreTokenizerRules(@TempDir Path dir) throws IOException {
        String[] extra = {"he", "ll", "hello", "12"}; // ids 256..259; "hello" cannot be reached by the merges
        String[] merges = {"h e", "l l", "1 2"};
        Map<String, Tokenizer> byPre = new LinkedHashMap<>();
        for (String pre : List.of("gpt-2", "llama3", "smollm")) {
            Path file = dir.resolve(pre + ".gguf");
            Files.write(file, ggufWithStrings(byteLevelVocabulary(pre, extra, merges)));
            byPre.put(pre, load(file));
        }
        Tokenizer gpt2 = byPre.get("gpt-2"), llama3 = byPre.get("llama3"), smollm = byPre.get("smollm");
        assertArrayEquals(new int[] {256, 257, 'o'}, gpt2.encode("hello", false), "merges only");
        assertArrayEquals(new int[] {258, '!'}, llama3.encode("hello!", false), "llama3 takes whole-word tokens first");
        assertArrayEquals(new int[] {'x', 259, '3'}, gpt2.encode("x123", false));
        assertArrayEquals(new int[] {'x', '1', '2', '3'}, smollm.encode("x123", false), "smollm splits every digit");
        assertArrayEquals(
                new int[] {259, '3', '4', 259}, llama3.encode("123412", false), "llama3 groups digits by three");
        assertFalse(gpt2.addBosByDefault());
        assertTrue(llama3.addBosByDefault(), "llama3 vocabularies add BOS unless the file says otherwise");
        assertEquals("hello! x123 ünï 🙂", llama3.decode(llama3.encode("hello! x123 ünï 🙂", false)));
    }

    @Test
    void missingPreTokenizerKeyMeansLlamaCppDefaultRules(@TempDir Path dir) throws IOException {
        String[] extra = {"34", "45"}; // ids 256, 257
        String[] merges = {"3 4", "4 5"};
        Map<String, Object> withoutPre = byteLevelVocabulary("unused", extra, merges);
        withoutPre.remove("tokenizer.ggml.pre");
        Path file = dir.resolve("nopre.gguf");
        Files.write(file, ggufWithStrings(withoutPre));
        Tokenizer legacy = load(file);
        assertEquals(ByteLevelBpeTokenizer.PreTokenizer.DEFAULT, ((ByteLevelBpeTokenizer) legacy).preTokenizer());
        // default: "12345" is cut into "123" + "45" before merging; gpt-2 merges "3 4" first inside "12345".
        assertArrayEquals(new int[] {'x', '1', '2', '3', 257}, legacy.encode("x12345", false));
        Path emptyPre = dir.resolve("emptypre.gguf");
        Files.write(emptyPre, ggufWithStrings(byteLevelVocabulary("", extra, merges)));
        assertArrayEquals(
                new int[] {'x', '1', '2', '3', 257},
                load(emptyPre).encode("x12345", false),
                "an empty name means default too");
        Path gpt2File = dir.resolve("gpt2.gguf");
        Files.write(gpt2File, ggufWithStrings(byteLevelVocabulary("gpt-2", extra, merges)));
        assertArrayEquals(new int[] {'x', '1', '2', 256, '5'}, load(gpt2File).encode("x12345", false));
    }

    @Test
    void sentencePieceWithoutDummyPrefixAndWithoutByteTokens(@TempDir Path dir) throws IOException {
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("tokenizer.ggml.model", "llama");
        metadata.put("tokenizer.ggml.tokens", new String[] {"<unk>", "<s>", "</s>", "\u2581", "a", "b", "\u2581a"});
        Path withPrefix = dir.resolve("prefix.gguf");
        Files.write(withPrefix, ggufWithStrings(metadata));
        metadata.put("tokenizer.ggml.add_space_prefix", false);
        Path withoutPrefix = dir.resolve("noprefix.gguf");
        Files.write(withoutPrefix, ggufWithStrings(metadata));

        assertArrayEquals(new int[] {6, 3, 5}, load(withPrefix).encode("a b", false));
        Tokenizer plain = load(withoutPrefix);
        assertFalse(plain.addsSpacePrefix());
        assertArrayEquals(new int[] {4, 3, 5}, plain.encode("a b", false));
        assertArrayEquals(
                new int[] {4, 0, 5}, plain.encode("acb", false), "no <0x63> token: the unknown token stands in");
        assertEquals("a b", plain.decode(plain.encode("a b", false)), "no dummy space to strip");
    }

    @Test
    void askingForBosWithoutBosTokenIsAClearError(@TempDir Path dir) throws IOException {
        Map<String, Object> metadata = byteLevelVocabulary("gpt-2", new String[0], new String[0]);
        metadata.put("tokenizer.ggml.bos_token_id", -1);
        Path file = dir.resolve("nobos.gguf");
        Files.write(file, ggufWithStrings(metadata));
        Tokenizer tokenizer = load(file);
        assertEquals(-1, tokenizer.bos());
        assertArrayEquals(new int[] {'h', 'i'}, tokenizer.encode("hi", false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tokenizer.encode("hi", true));
        assertTrue(e.getMessage().contains("no BOS"), e.getMessage());
    }

    /** A tensor-less GGUF v3 file holding string, string array, int32 and bool metadata. */
    static byte[] ggufWithStrings(Map<String, Object> metadata) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer header = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(0x46554747).putInt(3).putLong(0).putLong(metadata.size());
        out.writeBytes(header.array());
        for (Map.Entry<String, Object> entry : metadata.entrySet()) {
            writeString(out, entry.getKey());
            if (entry.getValue() instanceof String s) {
                writeInt(out, 8);
                writeString(out, s);
            } else if (entry.getValue() instanceof Integer v) {
                writeInt(out, 5); // int32
                writeInt(out, v);
            } else if (entry.getValue() instanceof Boolean b) {
                writeInt(out, 7); // bool
                out.write(b ? 1 : 0);
            } else {
                String[] values = (String[]) entry.getValue();
                writeInt(out, 9);
                writeInt(out, 8);
                ByteBuffer count =
                        ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(values.length);
                out.writeBytes(count.array());
                for (String v : values) writeString(out, v);
            }
        }
        return out.toByteArray();
    }

    private static void writeInt(ByteArrayOutputStream out, int v) {
        out.writeBytes(
                ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
    }

    private static void writeString(ByteArrayOutputStream out, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        out.writeBytes(ByteBuffer.allocate(8)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(bytes.length)
                .array());
        out.writeBytes(bytes);
    }

    static List<String> comparisonTexts() throws IOException {
        List<String> texts = new ArrayList<>(ROUND_TRIP_TEXTS);
        texts.addAll(vocabTestTexts(sharedDir().resolve("reference/tokenizer/ggml-vocab-llama-spm.gguf.inp")));
        for (String line : Files.readAllLines(sharedDir().resolve("reference/outputs/stories260K.jsonl"))) {
            if (!line.isBlank()) texts.add(TestData.json(line).getString("prompt"));
        }
        return texts;
    }

    @Test
    void llama2cTok512EqualsStories260kGgufTokenizer() throws IOException {
        Tokenizer fromGguf = load(sharedDir().resolve("models/stories260K.gguf"));
        Tokenizer fromBin = Llama2cTokenizer.read(sharedDir().resolve("models/tok512.bin"), 512);
        assertSameTokenizer(fromGguf, fromBin);
        assertEquals("<s>", fromBin.tokenText(1));
        assertEquals("<0x00>", fromBin.tokenText(3));
        assertEquals("<0xFF>", fromBin.tokenText(258));
    }

    @Test
    void llama2cTokenizerBinEqualsLlamaSpmGguf() throws IOException {
        Tokenizer fromGguf = vocab("llama-spm");
        Tokenizer fromBin = Llama2cTokenizer.read(sharedDir().resolve("models/tokenizer.bin"));
        assertSameTokenizer(fromGguf, fromBin);
    }

    private static void assertSameTokenizer(Tokenizer expected, Tokenizer actual) throws IOException {
        assertEquals(expected.vocabSize(), actual.vocabSize());
        assertEquals(expected.bos(), actual.bos());
        assertEquals(expected.eos(), actual.eos());
        assertEquals(expected.addBosByDefault(), actual.addBosByDefault());
        for (int id = 0; id < expected.vocabSize(); id++) {
            assertEquals(expected.tokenText(id), actual.tokenText(id), "text of token " + id);
            assertEquals(expected.vocabulary().score(id), actual.vocabulary().score(id), "score of token " + id);
            assertEquals(expected.vocabulary().type(id), actual.vocabulary().type(id), "type of token " + id);
        }
        for (String text : comparisonTexts()) {
            assertArrayEquals(expected.encode(text, true), actual.encode(text, true), "'" + text + "'");
            assertArrayEquals(
                    expected.encodeWithSpecials(text, true), actual.encodeWithSpecials(text, true), "'" + text + "'");
        }
    }

    @Test
    void llama2cReaderRejectsGarbage(@TempDir Path dir) throws IOException {
        Path bad = dir.resolve("bad.bin");
        Files.write(
                bad,
                ByteBuffer.allocate(16)
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .putInt(7)
                        .putFloat(0f)
                        .putInt(100)
                        .array());
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class, () -> Llama2cTokenizer.read(bad));
        assertTrue(e.getMessage().contains("bad length 100"), e.getMessage());
        Path gguf = sharedDir().resolve("models/stories260K.gguf");
        assertThrows(UnsupportedModelException.class, () -> Llama2cTokenizer.read(gguf));
    }

    @Test
    void plainTextWithSpecialLookingStringsDiffersFromParsedSpecials() throws IOException {
        Tokenizer spm = vocab("llama-spm");
        assertNotEquals(
                Arrays.toString(spm.encode("</s>", false)), Arrays.toString(spm.encodeWithSpecials("</s>", false)));
        assertArrayEquals(new int[] {2}, spm.encodeWithSpecials("</s>", false));
    }
}
