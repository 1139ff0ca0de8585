package dev.anvil.engine;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GPT-2 style byte-level BPE as llama.cpp runs it for {@code tokenizer.ggml.model = gpt2}: a pre-tokenizer
 * (chosen by {@code tokenizer.ggml.pre}) cuts the text into words, each word's UTF-8 bytes are mapped to the
 * GPT-2 "byte to unicode" alphabet, and adjacent symbols are merged by merge rank, lowest first (leftmost on
 * ties), using {@code tokenizer.ggml.merges}.
 *
 * <p>A pre-tokenizer is a chain of split steps, each refining the pieces of the previous one, as llama.cpp
 * applies its list of regexes. The two workhorse rules are hand-written scanners (as in llama.cpp):
 * <ul>
 * <li>gpt-2: {@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+}</li>
 * <li>llama3: {@code (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+}
 *     (qwen2: the same with single digits)</li>
 * </ul>
 * The remaining steps (digit and punctuation splits) run as java.util.regex with Unicode classes.
 */
public final class ByteLevelBpeTokenizer implements Tokenizer {

    /** One split step: appends the end index of every piece of {@code cps[from..to)}. */
    @FunctionalInterface
    interface Splitter {
        void split(int[] cps, int from, int to, IntList ends);
    }

    /** Word splitting rules, named after llama.cpp's pre-tokenizer types; each is a chain of split steps. */
    public enum PreTokenizer {
        GPT2(ByteLevelBpeTokenizer::splitGpt2),
        LLAMA3((cps, from, to, ends) -> splitLlama3(cps, from, to, 3, ends)),
        QWEN2((cps, from, to, ends) -> splitLlama3(cps, from, to, 1, ends)),
        /** starcoder, smollm, ...: every digit alone, then gpt-2. */
        DIGITS_THEN_GPT2(ByteLevelBpeTokenizer::splitEachNumber, ByteLevelBpeTokenizer::splitGpt2),
        FALCON(regex("[\\p{P}\\$\\+<=>\\^~\\|`]+"), ByteLevelBpeTokenizer::splitGpt2, regex("[0-9][0-9][0-9]")),
        /** llama.cpp's rules for an unknown-era file without {@code tokenizer.ggml.pre}. */
        DEFAULT(
                regex("[\\p{P}\\$\\+<=>\\^~\\|]+"),
                ByteLevelBpeTokenizer::splitGpt2,
                regex("\\p{N}+"),
                regex("[0-9][0-9][0-9]"));

        private final Splitter[] steps;

        PreTokenizer(Splitter... steps) {
            this.steps = steps;
        }

        /** Splits {@code cps} into words; returns the end index of each word. */
        IntList split(int[] cps) {
            IntList ends = new IntList();
            ends.add(cps.length);
            for (Splitter step : steps) {
                IntList refined = new IntList();
                int start = 0;
                for (int i = 0; i < ends.size(); i++) {
                    int end = ends.get(i);
                    if (end > start) step.split(cps, start, end, refined);
                    start = end;
                }
                ends = refined;
            }
            return ends;
        }
    }

    private static final byte[] EMPTY = new byte[0];

    /** GPT-2's reversible map from bytes to printable code points, and its inverse (-1 = not a byte char). */
    private static final char[] BYTE_TO_CHAR = new char[256];

    private static final int[] CHAR_TO_BYTE = new int[512];

    static {
        Arrays.fill(CHAR_TO_BYTE, -1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + extra++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private final Vocabulary vocab;
    private final PreTokenizer preTokenizer;
    /** llama.cpp's ignore_merges (llama3): a word that is itself a token is emitted without merging. */
    private final boolean wholeWordsFirst;

    private final int[] byteTokens = new int[256];
    private final MergeTable merges;
    private final byte[][] pieces;

    public ByteLevelBpeTokenizer(
            Vocabulary vocab, String[] mergeRules, PreTokenizer preTokenizer, boolean wholeWordsFirst) {
        this.vocab = vocab;
        this.preTokenizer = preTokenizer;
        this.wholeWordsFirst = wholeWordsFirst;
        for (int b = 0; b < 256; b++) byteTokens[b] = vocab.id(String.valueOf(BYTE_TO_CHAR[b]));
        merges = new MergeTable(mergeRules.length);
        for (int rank = 0; rank < mergeRules.length; rank++) {
            String rule = mergeRules[rank];
            int space = rule.indexOf(' ', 1);
            if (space < 0)
                throw new UnsupportedModelException(
                        "BPE merge rule " + rank + " '" + rule + "' has no space separator");
            int rightLength = rule.length() - space - 1;
            int leftId = vocab.id(rule, 0, space), rightId = vocab.id(rule, space + 1, rightLength);
            int mergedId = vocab.idOfConcatenation(rule, 0, space, space + 1, rightLength);
            // A rule whose parts or result are not tokens can never fire on token symbols; the ranks of the others keep
            // their positions.
            if (leftId >= 0 && rightId >= 0 && mergedId >= 0) merges.putIfAbsent(leftId, rightId, rank, mergedId);
        }
        pieces = new byte[vocab.size()][];
        for (int id = 0; id < pieces.length; id++) pieces[id] = piece(id);
    }

    static ByteLevelBpeTokenizer fromGguf(GgufFile gguf) {
        String[] tokens = gguf.getStringArray("tokenizer.ggml.tokens");
        if (tokens == null) throw new UnsupportedModelException(gguf.path() + ": tokenizer.ggml.tokens is missing");
        String[] mergeRules = gguf.getStringArray("tokenizer.ggml.merges");
        if (mergeRules == null)
            throw new UnsupportedModelException(gguf.path() + ": gpt2 tokenizer without tokenizer.ggml.merges");
        // Names as llama.cpp maps them; a file without the key gets llama.cpp's "default" rules.
        String pre = gguf.getString("tokenizer.ggml.pre", "default");
        PreTokenizer preTokenizer = switch (pre) {
            case "gpt-2",
                    "phi-2",
                    "jina-es",
                    "jina-de",
                    "gigachat",
                    "jina-v1-en",
                    "jina-v2-es",
                    "jina-v2-de",
                    "jina-v2-code",
                    "roberta-bpe",
                    "mpt",
                    "olmo",
                    "jais" -> PreTokenizer.GPT2;
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe" -> PreTokenizer.LLAMA3;
            case "qwen2", "deepseek-r1-qwen", "stablelm2" -> PreTokenizer.QWEN2;
            case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b" ->
                PreTokenizer.DIGITS_THEN_GPT2;
            case "falcon" -> PreTokenizer.FALCON;
            case "default", "" -> PreTokenizer.DEFAULT;
            default ->
                throw new UnsupportedModelException(
                        gguf.path() + ": BPE pre-tokenizer '" + pre
                                + "' is not supported (supported: gpt-2, llama3, qwen2, smollm/starcoder, falcon, default and their aliases)");
        };
        // Only the llama3 family proper skips merges for whole-word tokens and adds BOS by default.
        boolean llama3 = switch (pre) {
            case "llama3", "llama-v3", "llama-bpe", "falcon3" -> true;
            default -> false;
        };
        // llama.cpp's defaults: no BOS for byte-level BPE, except the llama3 family; the file's keys win.
        Vocabulary vocab = new Vocabulary(
                tokens,
                gguf.getFloatArray("tokenizer.ggml.scores"),
                gguf.getIntArray("tokenizer.ggml.token_type"),
                gguf.getInt("tokenizer.ggml.bos_token_id", 11),
                gguf.getInt("tokenizer.ggml.eos_token_id", 11),
                gguf.getInt("tokenizer.ggml.unknown_token_id", -1),
                gguf.getInt("tokenizer.ggml.padding_token_id", -1),
                gguf.getInt("tokenizer.ggml.eot_token_id", -1),
                gguf.getBoolean("tokenizer.ggml.add_bos_token", llama3),
                gguf.getBoolean("tokenizer.ggml.add_eos_token", false));
        return new ByteLevelBpeTokenizer(vocab, mergeRules, preTokenizer, llama3);
    }

    public PreTokenizer preTokenizer() {
        return preTokenizer;
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        IntList out = new IntList();
        if (addBos) out.add(vocab.requireBos());
        for (Vocabulary.Fragment fragment : vocab.partition(text, parseSpecial)) {
            if (fragment.isText()) encodeText(fragment.text(), out);
            else out.add(fragment.token());
        }
        return out.toArray();
    }

    private void encodeText(String text, IntList out) {
        int[] cps = new int[text.length()];
        int count = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            cps[count++] = cp;
            i += Character.charCount(cp);
        }
        if (count < cps.length) cps = Arrays.copyOf(cps, count);
        IntList wordEnds = preTokenizer.split(cps);
        byte[] buffer = new byte[64];
        int start = 0;
        for (int w = 0; w < wordEnds.size(); w++) {
            int end = wordEnds.get(w);
            int length = 0;
            for (int i = start; i < end; i++) {
                if (length + 4 > buffer.length) buffer = Arrays.copyOf(buffer, buffer.length * 2);
                length = putUtf8(cps[i], buffer, length);
            }
            encodeWord(buffer, length, out);
            start = end;
        }
    }

    // --- byte-pair merging ----------------------------------------------------------------------

    private void encodeWord(byte[] bytes, int n, IntList out) {
        if (n == 0) return;
        if (wholeWordsFirst) {
            StringBuilder mapped = new StringBuilder(n);
            for (int i = 0; i < n; i++) mapped.append(BYTE_TO_CHAR[bytes[i] & 0xFF]);
            int id = vocab.id(mapped.toString());
            if (id >= 0) {
                out.add(id);
                return;
            }
        }
        // One symbol per byte in a linked list; merged symbols take over their right neighbour.
        int[] ids = new int[n], prev = new int[n], next = new int[n];
        boolean[] alive = new boolean[n];
        for (int i = 0; i < n; i++) {
            ids[i] = byteTokens[bytes[i] & 0xFF];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            alive[i] = true;
        }
        // Candidates are (rank << 32 | left index): the heap yields the lowest rank, then the leftmost.
        LongHeap queue = new LongHeap(n);
        for (int i = 0; i + 1 < n; i++) offer(ids, i, i + 1, queue);
        while (!queue.isEmpty()) {
            long candidate = queue.poll();
            int left = (int) candidate, rank = (int) (candidate >>> 32);
            int right = next[left];
            if (!alive[left] || right < 0) continue;
            long merge = merges.get(ids[left], ids[right]);
            // A rank names exactly one pair of texts, so an equal rank means the candidate is still current.
            if (merge < 0 || (int) (merge >>> 32) != rank) continue;
            ids[left] = (int) merge;
            alive[right] = false;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            if (prev[left] >= 0) offer(ids, prev[left], left, queue);
            if (next[left] >= 0) offer(ids, left, next[left], queue);
        }
        for (int s = 0; s >= 0; s = next[s]) {
            if (ids[s] >= 0) out.add(ids[s]);
            else if (vocab.unk() >= 0) out.add(vocab.unk());
            else
                throw new IllegalArgumentException(String.format(
                        "cannot tokenize byte 0x%02X: the vocabulary has no token for it and no unknown token",
                        bytes[s] & 0xFF));
        }
    }

    private void offer(int[] ids, int left, int right, LongHeap queue) {
        if (ids[left] < 0 || ids[right] < 0) return;
        long merge = merges.get(ids[left], ids[right]);
        if (merge >= 0) queue.add((merge >>> 32) << 32 | left);
    }

    /** Open-addressing map from (left id, right id) to (rank << 32 | merged id); -1 when absent. */
    private static final class MergeTable {
        private final long[] keys;
        private final long[] values;
        private final int mask;

        MergeTable(int expected) {
            int capacity = Integer.highestOneBit(Math.max(4, expected * 2) - 1) << 1;
            keys = new long[capacity];
            values = new long[capacity];
            Arrays.fill(keys, -1L);
            mask = capacity - 1;
        }

        private int slot(long key) {
            long h = key * 0x9E3779B97F4A7C15L;
            int i = (int) (h >>> 40) & mask;
            while (keys[i] != -1L && keys[i] != key) i = (i + 1) & mask;
            return i;
        }

        void putIfAbsent(int left, int right, int rank, int merged) {
            long key = (long) left << 32 | right;
            int i = slot(key);
            if (keys[i] == -1L) {
                keys[i] = key;
                values[i] = (long) rank << 32 | merged;
            }
        }

        long get(int left, int right) {
            long key = (long) left << 32 | right;
            int i = slot(key);
            return keys[i] == key ? values[i] : -1L;
        }
    }

    // --- pre-tokenizers -------------------------------------------------------------------------

    private static final int LETTER = 1, NUMBER = 2, WHITESPACE = 4, VALID = 8;
    /** Flags of the Basic Multilingual Plane, computed once; other planes are classified on demand. */
    private static final byte[] BMP_FLAGS = new byte[0x10000];

    static {
        for (int cp = 0; cp < 0x10000; cp++) BMP_FLAGS[cp] = (byte) classify(cp);
    }

    private static int classify(int cp) {
        int f = VALID;
        if (Character.isLetter(cp)) f |= LETTER;
        int type = Character.getType(cp);
        if (type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER || type == Character.OTHER_NUMBER)
            f |= NUMBER;
        // Unicode White_Space, the set llama.cpp's \s stands for.
        if ((cp >= 0x09 && cp <= 0x0D)
                || cp == 0x20
                || cp == 0x85
                || cp == 0xA0
                || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A)
                || cp == 0x2028
                || cp == 0x2029
                || cp == 0x202F
                || cp == 0x205F
                || cp == 0x3000) {
            f |= WHITESPACE;
        }
        return f;
    }

    private static int flags(int cp) {
        return cp < 0x10000 ? BMP_FLAGS[cp] : classify(cp);
    }

    /** Flags of the code point at {@code pos}, or 0 past the end of the piece (so no class matches there). */
    private static int flagsAt(int[] cps, int pos, int end) {
        return pos < end ? flags(cps[pos]) : 0;
    }

    private static boolean isContraction(int[] cps, int pos, int end, boolean ignoreCase, IntList wordEnds) {
        if (cps[pos] != '\'' || pos + 1 >= end) return false;
        int c1 = ignoreCase ? Character.toLowerCase(cps[pos + 1]) : cps[pos + 1];
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
            wordEnds.add(pos + 2);
            return true;
        }
        if (pos + 2 < end) {
            int c2 = ignoreCase ? Character.toLowerCase(cps[pos + 2]) : cps[pos + 2];
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                wordEnds.add(pos + 3);
                return true;
            }
        }
        return false;
    }

    /** {@code \p{N}}: every number code point is a piece of its own, and so is each stretch between them. */
    static void splitEachNumber(int[] cps, int from, int to, IntList ends) {
        int start = from;
        for (int i = from; i < to; i++) {
            if ((flags(cps[i]) & NUMBER) != 0) {
                if (i > start) ends.add(i);
                ends.add(i + 1);
                start = i + 1;
            }
        }
        if (start < to) ends.add(to);
    }

    /** A split step running a regex: every match is a piece, and so is every stretch between matches. */
    private static Splitter regex(String expression) {
        Pattern pattern = Pattern.compile(expression, Pattern.UNICODE_CHARACTER_CLASS);
        return (cps, from, to, ends) -> {
            String piece = new String(cps, from, to - from);
            Matcher m = pattern.matcher(piece);
            int charPos = 0, cpPos = from;
            while (m.find()) {
                if (m.end() == m.start()) continue;
                if (m.start() > charPos) {
                    cpPos += piece.codePointCount(charPos, m.start());
                    ends.add(cpPos);
                }
                cpPos += piece.codePointCount(m.start(), m.end());
                ends.add(cpPos);
                charPos = m.end();
            }
            if (cpPos < to) ends.add(to);
        };
    }

    /** The gpt-2 rules over {@code cps[from..to)}; appends the end index of every word. */
    static void splitGpt2(int[] cps, int from, int to, IntList wordEnds) {
        int pos = from;
        while (pos < to) {
            int cp = cps[pos];
            if (isContraction(cps, pos, to, false, wordEnds)) {
                pos = wordEnds.get(wordEnds.size() - 1);
                continue;
            }
            // " ?X+" rules: an optional single leading space, then a run of one class.
            int f = cp == ' ' ? flagsAt(cps, pos + 1, to) : flags(cp);
            int runClass = (f & LETTER) != 0
                    ? LETTER
                    : (f & NUMBER) != 0 ? NUMBER : (f & VALID) != 0 && (f & WHITESPACE) == 0 ? -1 : 0;
            if (runClass != 0) {
                if (cp == ' ') pos++;
                do {
                    pos++;
                } while (pos < to && sameRun(runClass, flags(cps[pos])));
                wordEnds.add(pos);
                continue;
            }
            int spaces = 0;
            while ((flagsAt(cps, pos + spaces, to) & WHITESPACE) != 0) spaces++;
            if (spaces > 1 && pos + spaces < to) {
                pos += spaces - 1; // \s+(?!\S): leave the last space to prefix the next word
            } else if (spaces > 0) {
                pos += spaces;
            } else {
                pos++;
            }
            wordEnds.add(pos);
        }
    }

    /** Whether a code point with flags {@code f} continues a run of {@code runClass} (-1 = "not space, letter or number"). */
    private static boolean sameRun(int runClass, int f) {
        if (runClass == -1) return (f & (WHITESPACE | LETTER | NUMBER)) == 0;
        return (f & runClass) != 0;
    }

    /** The llama3 rules over {@code cps[from..to)} with digit groups of at most {@code maxDigits}. */
    static void splitLlama3(int[] cps, int from, int to, int maxDigits, IntList wordEnds) {
        int pos = from;
        while (pos < to) {
            int cp = cps[pos];
            int f = flags(cp);
            if (isContraction(cps, pos, to, true, wordEnds)) {
                pos = wordEnds.get(wordEnds.size() - 1);
                continue;
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if (!(cp == '\r' || cp == '\n' || (f & NUMBER) != 0)
                    && ((f & LETTER) != 0 || (flagsAt(cps, pos + 1, to) & LETTER) != 0)) {
                pos++;
                while ((flagsAt(cps, pos, to) & LETTER) != 0) pos++;
                wordEnds.add(pos);
                continue;
            }
            // \p{N}{1,maxDigits}
            if ((f & NUMBER) != 0) {
                int groupStart = pos;
                while ((flagsAt(cps, pos, to) & NUMBER) != 0) {
                    pos++;
                    if (pos - groupStart >= maxDigits) {
                        wordEnds.add(pos);
                        groupStart = pos;
                    }
                }
                if (pos > groupStart) wordEnds.add(pos);
                continue;
            }
            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            int f2 = cp == ' ' ? flagsAt(cps, pos + 1, to) : f;
            if ((f2 & (WHITESPACE | LETTER | NUMBER)) == 0 && (f2 & VALID) != 0) {
                if (cp == ' ') pos++;
                while (pos < to && (flags(cps[pos]) & (WHITESPACE | LETTER | NUMBER)) == 0) pos++;
                while (pos < to && (cps[pos] == '\r' || cps[pos] == '\n')) pos++;
                wordEnds.add(pos);
                continue;
            }
            int spaces = 0, lastNewlineEnd = -1;
            while ((flagsAt(cps, pos + spaces, to) & WHITESPACE) != 0) {
                int c = cps[pos + spaces];
                if (c == '\r' || c == '\n') lastNewlineEnd = pos + spaces + 1;
                spaces++;
            }
            if (lastNewlineEnd >= 0) {
                pos = lastNewlineEnd; // \s*[\r\n]+
            } else if (spaces > 1 && pos + spaces < to) {
                pos += spaces - 1; // \s+(?!\S)
            } else if (spaces > 0) {
                pos += spaces; // \s+
            } else {
                pos++;
            }
            wordEnds.add(pos);
        }
    }

    private static int putUtf8(int cp, byte[] out, int at) {
        if (cp < 0x80) {
            out[at++] = (byte) cp;
        } else if (cp < 0x800) {
            out[at++] = (byte) (0xC0 | cp >> 6);
            out[at++] = (byte) (0x80 | cp & 0x3F);
        } else if (cp < 0x10000) {
            out[at++] = (byte) (0xE0 | cp >> 12);
            out[at++] = (byte) (0x80 | cp >> 6 & 0x3F);
            out[at++] = (byte) (0x80 | cp & 0x3F);
        } else {
            out[at++] = (byte) (0xF0 | cp >> 18);
            out[at++] = (byte) (0x80 | cp >> 12 & 0x3F);
            out[at++] = (byte) (0x80 | cp >> 6 & 0x3F);
            out[at++] = (byte) (0x80 | cp & 0x3F);
        }
        return at;
    }

    // --- decoding -------------------------------------------------------------------------------

    private byte[] piece(int id) {
        String text = vocab.text(id);
        return switch (vocab.type(id)) {
            case TYPE_NORMAL -> {
                byte[] bytes = new byte[text.length() * 3];
                int n = 0;
                for (int i = 0; i < text.length(); ) {
                    int cp = text.codePointAt(i);
                    i += Character.charCount(cp);
                    int b = cp < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[cp] : -1;
                    if (b >= 0) bytes[n++] = (byte) b;
                    else n = putUtf8(cp, bytes, n); // not from the byte alphabet: keep the character itself
                }
                yield Arrays.copyOf(bytes, n);
            }
            case TYPE_USER_DEFINED -> text.getBytes(StandardCharsets.UTF_8);
            default -> EMPTY; // control, unknown, unused: nothing, as llama.cpp renders them without "special"
        };
    }

    @Override
    public byte[] tokenBytes(int id) {
        return pieces[vocab.check(id)].clone();
    }

    @Override
    public boolean addsSpacePrefix() {
        return false;
    }

    @Override
    public Vocabulary vocabulary() {
        return vocab;
    }

    @Override
    public String toString() {
        return "ByteLevelBpeTokenizer[" + vocab.size() + " tokens, " + preTokenizer + "]";
    }
}
