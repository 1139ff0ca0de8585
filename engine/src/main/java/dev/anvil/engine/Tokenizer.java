package dev.anvil.engine;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Text to token ids and back, with llama.cpp's semantics so that prompts tokenize exactly as the reference
 * implementation does. Instances are immutable and thread-safe.
 *
 * <p>{@link #fromGguf(GgufFile)} picks the implementation from {@code tokenizer.ggml.model}:
 * {@code llama} gives a {@link SentencePieceTokenizer}, {@code gpt2} a {@link ByteLevelBpeTokenizer}, {@code bert} a
 * {@link WordPieceTokenizer}.
 */
public interface Tokenizer {

    /**
     * Tokenizes {@code text}, with BOS first when {@code addBos}; with {@code parseSpecial}, control tokens
     * ({@code <s>}, {@code <|im_start|>}, ...) written in the text are recognised as their ids, otherwise they are
     * tokenized as text (llama.cpp's {@code parse_special}).
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /** Tokenizes plain text: control-token strings such as {@code <s>} written in the text are tokenized as text. */
    default int[] encode(String text, boolean addBos) {
        return encode(text, addBos, false);
    }

    /** Tokenizes text in which control tokens ({@code <s>}, {@code <|im_start|>}, ...) are recognised as their ids. */
    default int[] encodeWithSpecials(String text, boolean addBos) {
        return encode(text, addBos, true);
    }

    /** The raw bytes token {@code id} contributes to decoded text (empty for control tokens). */
    byte[] tokenBytes(int id);

    /** The whole text of a token sequence; strips the SentencePiece dummy space of the first token like llama.cpp. */
    default String decode(int[] ids) {
        return TokenDecoder.decodeAll(this, ids);
    }

    default int vocabSize() {
        return vocabulary().size();
    }

    default int bos() {
        return vocabulary().bos();
    }

    default int eos() {
        return vocabulary().eos();
    }

    /** True for tokens that end generation: EOS and end-of-turn tokens like {@code <|eot_id|>}, {@code <|im_end|>}. */
    default boolean isEndOfGeneration(int id) {
        return vocabulary().isEndOfGeneration(id);
    }

    /** The token's text exactly as stored in the vocabulary (for logs and debugging). */
    default String tokenText(int id) {
        return vocabulary().text(id);
    }

    /** Whether this model's prompts start with BOS (llama.cpp's add_bos rule); pass it as {@code addBos}. */
    default boolean addBosByDefault() {
        return vocabulary().addBos();
    }

    /** Whether encoding prefixes a space (SentencePiece "add dummy prefix"), which decoding then strips again. */
    boolean addsSpacePrefix();

    /** The vocabulary the tokenizer works on (token texts, scores, types, special ids). */
    Vocabulary vocabulary();

    /** Builds the tokenizer described by a GGUF file's {@code tokenizer.ggml.*} metadata. */
    static Tokenizer fromGguf(GgufFile gguf) {
        String model = gguf.getString("tokenizer.ggml.model", null);
        if (model == null) {
            throw new UnsupportedModelException(
                    gguf.path() + ": no tokenizer (metadata key tokenizer.ggml.model is missing)");
        }
        return switch (model) {
            case "llama" -> SentencePieceTokenizer.fromGguf(gguf);
            case "gpt2" -> ByteLevelBpeTokenizer.fromGguf(gguf);
            case "bert" -> WordPieceTokenizer.fromGguf(gguf);
            default ->
                throw new UnsupportedModelException(gguf.path() + ": tokenizer model '" + model
                        + "' is not supported (supported: llama, gpt2, bert)");
        };
    }

    /** GGUF token types ({@code tokenizer.ggml.token_type}), numbered as in llama.cpp. */
    int TYPE_NORMAL = 1, TYPE_UNKNOWN = 2, TYPE_CONTROL = 3, TYPE_USER_DEFINED = 4, TYPE_UNUSED = 5, TYPE_BYTE = 6;

    /**
     * Token table shared by both tokenizer kinds: texts, scores, types, special ids, and the splitting of text
     * around special tokens (llama.cpp's {@code tokenizer_st_partition}).
     */
    final class Vocabulary {
        /** Token texts whose presence makes them end-of-generation tokens, as in llama.cpp. */
        private static final List<String> EOG_TEXTS = List.of(
                "<|eot_id|>",
                "<|im_end|>",
                "<|end|>",
                "<end_of_turn>",
                "<|endoftext|>",
                "<|eom_id|>",
                "<EOT>",
                "_<EOT>");

        private final String[] tokens;
        private final float[] scores;
        private final int[] types;
        /** Open-addressing table of token ids by text, probed with char regions so lookups allocate nothing. */
        private final int[] slots;

        private final int slotMask;
        private final int bos, eos, unk, pad;
        private final boolean addBos, addEos;
        private final boolean[] endOfGeneration;
        /** Control, user-defined and unknown tokens, longest text first: the order llama.cpp partitions in. */
        private final int[] specialsLongestFirst;

        /**
         * @param types GGUF token types, or null for "all normal"
         * @param scores per-token scores, or null for all zero
         * @param eot end-of-turn token id, or -1
         */
        public Vocabulary(
                String[] tokens,
                float[] scores,
                int[] types,
                int bos,
                int eos,
                int unk,
                int pad,
                int eot,
                boolean addBos,
                boolean addEos) {
            int n = tokens.length;
            if (n == 0) throw new UnsupportedModelException("tokenizer vocabulary is empty");
            if (scores != null && scores.length != n) {
                throw new UnsupportedModelException("tokenizer has " + n + " tokens but " + scores.length + " scores");
            }
            if (types != null && types.length != n) {
                throw new UnsupportedModelException(
                        "tokenizer has " + n + " tokens but " + types.length + " token types");
            }
            this.tokens = tokens.clone();
            this.scores = scores == null ? new float[n] : scores.clone();
            this.types = types == null ? filled(n, TYPE_NORMAL) : types.clone();
            this.bos = checkId("BOS", bos, n);
            this.eos = checkId("EOS", eos, n);
            this.unk = checkId("UNK", unk, n);
            this.pad = checkId("PAD", pad, n);
            this.addBos = addBos;
            this.addEos = addEos;
            if (addBos && this.bos < 0) throw new UnsupportedModelException("tokenizer adds BOS but has no BOS token");

            slots = new int[Integer.highestOneBit(Math.max(4, n * 2) - 1) << 1];
            slotMask = slots.length - 1;
            Arrays.fill(slots, -1);
            for (int i = 0; i < n; i++) {
                String token = this.tokens[i];
                int slot = mix(token.hashCode()) & slotMask;
                while (slots[slot] >= 0 && !this.tokens[slots[slot]].equals(token)) slot = (slot + 1) & slotMask;
                slots[slot] = i; // a later duplicate replaces an earlier one, as in llama.cpp's token_to_id
            }

            endOfGeneration = new boolean[n];
            if (this.eos >= 0) endOfGeneration[this.eos] = true;
            if (checkId("EOT", eot, n) >= 0) endOfGeneration[eot] = true;
            for (String text : EOG_TEXTS) {
                int id = id(text);
                if (id >= 0) {
                    endOfGeneration[id] = true;
                    // llama.cpp forces these to control type even when the file says otherwise.
                    this.types[id] = TYPE_CONTROL;
                }
            }

            int count = 0;
            int[] specials = new int[n];
            for (int i = 0; i < n; i++) {
                int t = this.types[i];
                if ((t == TYPE_CONTROL || t == TYPE_USER_DEFINED || t == TYPE_UNKNOWN) && !this.tokens[i].isEmpty())
                    specials[count++] = i;
            }
            // llama.cpp orders by UTF-8 length (ties: here by id, there unspecified).
            long[] byLength = new long[count];
            for (int i = 0; i < count; i++) {
                long utf8Length = this.tokens[specials[i]].getBytes(StandardCharsets.UTF_8).length;
                byLength[i] = -utf8Length << 32 | specials[i];
            }
            Arrays.sort(byLength);
            specialsLongestFirst = new int[count];
            for (int i = 0; i < count; i++) specialsLongestFirst[i] = (int) byLength[i];
        }

        private static int[] filled(int n, int value) {
            int[] a = new int[n];
            Arrays.fill(a, value);
            return a;
        }

        private static int checkId(String what, int id, int n) {
            if (id < 0) return -1;
            if (id >= n)
                throw new UnsupportedModelException(
                        "tokenizer " + what + " id " + id + " is outside the vocabulary of " + n);
            return id;
        }

        public int size() {
            return tokens.length;
        }

        public String text(int id) {
            return tokens[check(id)];
        }

        public float score(int id) {
            return scores[check(id)];
        }

        public int type(int id) {
            return types[check(id)];
        }

        public int bos() {
            return bos;
        }

        public int eos() {
            return eos;
        }

        public int unk() {
            return unk;
        }

        public int pad() {
            return pad;
        }

        public boolean addBos() {
            return addBos;
        }

        /** The BOS id, for callers that asked for one; a vocabulary without BOS cannot honour that. */
        int requireBos() {
            if (bos < 0)
                throw new IllegalArgumentException("this vocabulary has no BOS token; encode with addBos = false");
            return bos;
        }

        public boolean addEos() {
            return addEos;
        }

        public boolean isEndOfGeneration(int id) {
            return id >= 0 && id < tokens.length && endOfGeneration[id];
        }

        /** The id of a token text, or -1. */
        public int id(String text) {
            return id(text, 0, text.length());
        }

        /** The id of the token spelled by {@code text[from, from+length)}, or -1. */
        public int id(String text, int from, int length) {
            int h = 0;
            for (int i = from, end = from + length; i < end; i++)
                h = 31 * h + text.charAt(i); // String.hashCode's formula
            for (int slot = mix(h) & slotMask; ; slot = (slot + 1) & slotMask) {
                int id = slots[slot];
                if (id < 0) return -1;
                String token = tokens[id];
                if (token.length() == length && token.hashCode() == h && token.regionMatches(0, text, from, length))
                    return id;
            }
        }

        /** The id of the token spelled by two regions of {@code text} one after the other, or -1. */
        int idOfConcatenation(String text, int from1, int length1, int from2, int length2) {
            int h = 0;
            for (int i = from1, end = from1 + length1; i < end; i++) h = 31 * h + text.charAt(i);
            for (int i = from2, end = from2 + length2; i < end; i++) h = 31 * h + text.charAt(i);
            for (int slot = mix(h) & slotMask; ; slot = (slot + 1) & slotMask) {
                int id = slots[slot];
                if (id < 0) return -1;
                String token = tokens[id];
                if (token.length() == length1 + length2
                        && token.hashCode() == h
                        && token.regionMatches(0, text, from1, length1)
                        && token.regionMatches(length1, text, from2, length2)) {
                    return id;
                }
            }
        }

        private static int mix(int h) {
            return (h ^ (h >>> 16)) * 0x45D9F3B;
        }

        int check(int id) {
            if (id < 0 || id >= tokens.length) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + tokens.length);
            }
            return id;
        }

        /** A piece of input after special-token splitting: either raw text ({@code token == -1}) or one token. */
        record Fragment(String text, int token) {
            boolean isText() {
                return token < 0;
            }
        }

        /**
         * Splits text around special tokens the way llama.cpp does: every special token, longest first, is
         * searched in the remaining raw text. User-defined tokens are always split out; control and unknown
         * tokens only when {@code parseSpecial}.
         */
        List<Fragment> partition(String text, boolean parseSpecial) {
            List<Fragment> fragments = new ArrayList<>();
            if (text.isEmpty()) return fragments;
            fragments.add(new Fragment(text, -1));
            for (int special : specialsLongestFirst) {
                if (!parseSpecial && types[special] != TYPE_USER_DEFINED) continue;
                String needle = tokens[special];
                for (int f = 0; f < fragments.size(); f++) {
                    Fragment fragment = fragments.get(f);
                    if (!fragment.isText()) continue;
                    String raw = fragment.text();
                    int hit = raw.indexOf(needle);
                    if (hit < 0) continue;
                    List<Fragment> pieces = new ArrayList<>();
                    int from = 0;
                    while (hit >= 0) {
                        if (hit > from) pieces.add(new Fragment(raw.substring(from, hit), -1));
                        pieces.add(new Fragment(needle, special));
                        from = hit + needle.length();
                        hit = raw.indexOf(needle, from);
                    }
                    if (from < raw.length()) pieces.add(new Fragment(raw.substring(from), -1));
                    fragments.remove(f);
                    fragments.addAll(f, pieces);
                    f += pieces.size() - 1;
                }
            }
            return fragments;
        }
    }

    /** Growable int list for building token sequences without boxing. */
    final class IntList {
        private int[] a = new int[64];
        private int n;

        public void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        public int size() {
            return n;
        }

        /** Drops everything from index {@code size} on. */
        public void truncate(int size) {
            if (size < 0 || size > n) throw new IndexOutOfBoundsException(size);
            n = size;
        }

        public int get(int i) {
            return a[i];
        }

        public int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }

    /** Binary min-heap of longs: merge candidates packed as (priority << 32 | symbol index). */
    final class LongHeap {
        private long[] a;
        private int n;

        public LongHeap(int capacity) {
            a = new long[Math.max(4, capacity)];
        }

        public boolean isEmpty() {
            return n == 0;
        }

        public void add(long v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            int i = n++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (a[parent] <= v) break;
                a[i] = a[parent];
                i = parent;
            }
            a[i] = v;
        }

        public long poll() {
            long top = a[0];
            long last = a[--n];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= n) break;
                if (child + 1 < n && a[child + 1] < a[child]) child++;
                if (a[child] >= last) break;
                a[i] = a[child];
                i = child;
            }
            a[i] = last;
            return top;
        }
    }
}
