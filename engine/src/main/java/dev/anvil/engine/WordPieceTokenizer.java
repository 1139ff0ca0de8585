package dev.anvil.engine;

import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;

/**
 * BERT's WordPiece as llama.cpp runs it for {@code tokenizer.ggml.model = bert} (its {@code llm_tokenizer_wpm}), so
 * that an embedding model sees exactly the ids llama.cpp feeds it.
 *
 * <p>The GGUF converter stores whole-word pieces with a {@code ▁} prefix ({@code "▁the"}) and continuation pieces
 * ({@code ##ing} in the Hugging Face vocabulary) without one ({@code "ing"}). Encoding:
 * <ol>
 *   <li>Normalize, code point by code point (BertNormalizer): with accent stripping (on when lowercasing, the default,
 *       unless {@code tokenizer.ggml.normalizer.strip_accents} says otherwise) each code point becomes the first code
 *       point of its NFD decomposition and combining marks ({@code \p{M}}) are dropped; NUL, U+FFFD and other
 *       ({@code \p{C}}) characters are dropped; lowercasing ({@code tokenizer.ggml.normalizer.lowercase}, default on)
 *       is the simple per-code-point mapping.</li>
 *   <li>Split into words at white space; every punctuation character ({@code \p{P}}), every ASCII symbol
 *       ({@code \p{S}} below U+007F: {@code $+<=>^`|~}) and every CJK ideograph is a word of its own.</li>
 *   <li>Each word, with {@code ▁} in front, is cut greedily into the longest vocabulary pieces from the left; a word
 *       with any position that no piece matches becomes the single unknown token ({@code [UNK]}).</li>
 * </ol>
 * With {@code addBos} (llama.cpp's {@code add_special}) the ids are framed as {@code [CLS] ... [SEP]}.
 *
 * <p>llama.cpp matches pieces on UTF-8 bytes, bounded by the longest token's byte length; since every piece and
 * every word is valid UTF-8, a match always starts and ends on a character boundary, so matching on chars with the
 * same byte bound gives the same pieces.
 */
public final class WordPieceTokenizer implements Tokenizer {

    private static final char WORD_MARK = '\u2581'; // ▁
    private static final byte[] EMPTY = new byte[0];

    private final Vocabulary vocab;
    private final int sep;
    private final boolean lowercase, stripAccents;
    /** UTF-8 length of the longest token: no piece is longer, so no longer candidate needs a lookup. */
    private final int maxTokenBytes;

    private final byte[][] pieces;

    public WordPieceTokenizer(Vocabulary vocab, int sep, boolean lowercase, boolean stripAccents) {
        if (vocab.bos() < 0 || vocab.unk() < 0)
            throw new UnsupportedModelException("WordPiece vocabulary needs [CLS] and [UNK] tokens");
        if (sep < 0 || sep >= vocab.size())
            throw new UnsupportedModelException("WordPiece separator token id " + sep + " is outside the vocabulary");
        this.vocab = vocab;
        this.sep = sep;
        this.lowercase = lowercase;
        this.stripAccents = stripAccents;
        int longest = 0;
        pieces = new byte[vocab.size()][];
        for (int id = 0; id < vocab.size(); id++) {
            String text = vocab.text(id);
            longest = Math.max(longest, text.getBytes(StandardCharsets.UTF_8).length);
            int type = vocab.type(id);
            pieces[id] = type == TYPE_CONTROL || type == TYPE_UNUSED
                    ? EMPTY
                    : text.replace(WORD_MARK, ' ').getBytes(StandardCharsets.UTF_8);
        }
        this.maxTokenBytes = longest;
    }

    static WordPieceTokenizer fromGguf(GgufFile gguf) {
        String[] tokens = gguf.getStringArray("tokenizer.ggml.tokens");
        if (tokens == null) throw new UnsupportedModelException(gguf.path() + ": tokenizer.ggml.tokens is missing");
        // llama.cpp's defaults for a WPM vocabulary (BERT's ids); the file's keys win. [CLS] is read as BOS.
        Vocabulary vocab = new Vocabulary(
                tokens,
                gguf.getFloatArray("tokenizer.ggml.scores"),
                gguf.getIntArray("tokenizer.ggml.token_type"),
                gguf.getInt("tokenizer.ggml.bos_token_id", 101),
                gguf.getInt("tokenizer.ggml.eos_token_id", -1),
                gguf.getInt("tokenizer.ggml.unknown_token_id", 100),
                gguf.getInt("tokenizer.ggml.padding_token_id", 0),
                -1,
                true,
                false);
        boolean lowercase = gguf.getBoolean("tokenizer.ggml.normalizer.lowercase", true);
        boolean strip = gguf.getBoolean("tokenizer.ggml.normalizer.strip_accents", lowercase);
        return new WordPieceTokenizer(vocab, gguf.getInt("tokenizer.ggml.seperator_token_id", 102), lowercase, strip);
    }

    /** The {@code [SEP]} id that closes every input encoded with {@code addBos}. */
    public int separator() {
        return sep;
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        IntList out = new IntList();
        if (addBos) out.add(vocab.bos());
        for (Vocabulary.Fragment fragment : vocab.partition(text, parseSpecial)) {
            if (!fragment.isText()) out.add(fragment.token());
            else for (String word : words(fragment.text())) piecesOf(word, out);
        }
        if (addBos) out.add(sep);
        return out.toArray();
    }

    /** Normalizes {@code text} and splits it into words (step 1 and 2 of the class comment). */
    List<String> words(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (Character.isSurrogate((char) cp)) cp = 0xFFFD; // a lone surrogate: invalid UTF-8 to llama.cpp
            if (stripAccents) cp = nfdBase(cp);
            if (isWhitespace(cp)) {
                flush(word, words);
                continue;
            }
            int type = Character.getType(cp);
            if (cp == 0 || cp == 0xFFFD || isControl(type)) continue;
            if (stripAccents && isMark(type)) continue;
            if (lowercase) cp = Character.toLowerCase(cp);
            if (isPunctuation(type) || (cp < 0x7F && isSymbol(type)) || isCjk(cp)) {
                flush(word, words);
                words.add(Character.toString(cp));
            } else {
                word.appendCodePoint(cp);
            }
        }
        flush(word, words);
        return words;
    }

    private static void flush(StringBuilder word, List<String> words) {
        if (!word.isEmpty()) {
            words.add(word.toString());
            word.setLength(0);
        }
    }

    /** Greedy longest-match-first pieces of {@code ▁word}; the unknown token if some position matches nothing. */
    private void piecesOf(String word, IntList out) {
        String w = WORD_MARK + word;
        int n = w.length(), before = out.size();
        int[] bytesTo = new int[n + 1]; // UTF-8 bytes of w[0, i)
        for (int i = 0; i < n; i++) {
            char c = w.charAt(i);
            bytesTo[i + 1] = bytesTo[i] + (c < 0x80 ? 1 : c < 0x800 ? 2 : Character.isSurrogate(c) ? 2 : 3);
        }
        for (int i = 0; i < n; ) {
            int matched = -1;
            for (int j = n; j > i; j--) {
                if (bytesTo[j] - bytesTo[i] > maxTokenBytes) continue;
                int id = vocab.id(w, i, j - i);
                if (id >= 0) {
                    out.add(id);
                    matched = j;
                    break;
                }
            }
            if (matched < 0) {
                out.truncate(before);
                break;
            }
            i = matched;
        }
        if (out.size() == before) out.add(vocab.unk());
    }

    /** The first code point of the canonical decomposition (llama.cpp's NFD table keeps only that one). */
    private static int nfdBase(int cp) {
        if (cp < 0xC0) return cp;
        String s = Character.toString(cp);
        String d = Normalizer.normalize(s, Normalizer.Form.NFD);
        return d.codePointAt(0);
    }

    /** Unicode White_Space, as llama.cpp's table lists it. */
    static boolean isWhitespace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D)
                || (cp >= 0x2000 && cp <= 0x200A)
                || cp == 0x20
                || cp == 0x85
                || cp == 0xA0
                || cp == 0x1680
                || cp == 0x2028
                || cp == 0x2029
                || cp == 0x202F
                || cp == 0x205F
                || cp == 0x3000;
    }

    private static boolean isControl(int type) {
        return type == Character.CONTROL
                || type == Character.FORMAT
                || type == Character.PRIVATE_USE
                || type == Character.SURROGATE;
    }

    private static boolean isMark(int type) {
        return type == Character.NON_SPACING_MARK
                || type == Character.ENCLOSING_MARK
                || type == Character.COMBINING_SPACING_MARK;
    }

    private static boolean isPunctuation(int type) {
        return switch (type) {
            case Character.CONNECTOR_PUNCTUATION,
                    Character.DASH_PUNCTUATION,
                    Character.START_PUNCTUATION,
                    Character.END_PUNCTUATION,
                    Character.INITIAL_QUOTE_PUNCTUATION,
                    Character.FINAL_QUOTE_PUNCTUATION,
                    Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    private static boolean isSymbol(int type) {
        return type == Character.MATH_SYMBOL
                || type == Character.CURRENCY_SYMBOL
                || type == Character.MODIFIER_SYMBOL
                || type == Character.OTHER_SYMBOL;
    }

    /** The CJK ideograph blocks BERT splits into single characters (llama.cpp's list, Hugging Face's bounds). */
    private static boolean isCjk(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF)
                || (cp >= 0x3400 && cp <= 0x4DBF)
                || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F)
                || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B920 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    @Override
    public byte[] tokenBytes(int id) {
        return pieces[vocab.check(id)];
    }

    /** Whole words carry {@code ▁}, decoded as a space; the first one's is dropped, as for SentencePiece. */
    @Override
    public boolean addsSpacePrefix() {
        return true;
    }

    @Override
    public Vocabulary vocabulary() {
        return vocab;
    }
}
