package dev.anvil.tools.model;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A synthetic tokenizer vocabulary of any size, built deterministically without any data file, so that synthetic
 * models carry a tokenizer of the real model's size, kind and special-token layout (the embedding table, the
 * classifier and the tokenizer tables all have production dimensions).
 *
 * <p>Two kinds, as llama.cpp's {@code tokenizer.ggml.model} names them:
 * <ul>
 *   <li>{@code gpt2}: GPT-2-style byte-level BPE. The 256 byte tokens in GPT-2's byte-to-unicode order; then merges
 *       learned by plain BPE training on a fixed English text embedded below (most frequent adjacent pair first,
 *       ties broken by the pair's text, until no pair occurs twice); then merges that extend existing all-letter
 *       tokens by one lowercase letter, breadth-first in token order, until the requested size is reached. Every
 *       merge joins two tokens that exist before it, and every merge result is a new distinct token, so the table
 *       is a valid BPE vocabulary.</li>
 *   <li>{@code llama}: SentencePiece with byte fallback. The 256 {@code <0xXX>} byte tokens (type BYTE), then pieces:
 *       {@code ▁} and the printable ASCII characters, then the merged BPE tokens above with GPT-2's space character
 *       replaced by {@code ▁}. Piece k scores -k, so longer, later pieces rank below the ones they are built from,
 *       as in a trained SentencePiece model.</li>
 * </ul>
 * Special tokens sit at the ids the {@link ModelShape.TokenizerSpec} gives; regular tokens fill the free ids from
 * the lowest, and any ids left over become {@code [PADn]} (type UNUSED), as llama.cpp's converter pads a vocabulary
 * to the embedding's row count.
 */
public final class SyntheticVocabulary {

    /** GGUF token types as llama.cpp numbers them (llama_token_type). */
    public static final int TYPE_NORMAL = 1,
            TYPE_UNKNOWN = 2,
            TYPE_CONTROL = 3,
            TYPE_USER_DEFINED = 4,
            TYPE_UNUSED = 5,
            TYPE_BYTE = 6;

    /** SentencePiece's word-boundary mark, U+2581. */
    static final char SPM_SPACE = '\u2581';

    private final String[] tokens;
    private final int[] types;
    private final String[] merges;
    private final float[] scores;

    private SyntheticVocabulary(String[] tokens, int[] types, String[] merges, float[] scores) {
        this.tokens = tokens;
        this.types = types;
        this.merges = merges;
        this.scores = scores;
    }

    public String[] tokens() {
        return tokens.clone();
    }

    public int[] types() {
        return types.clone();
    }

    /** BPE merges ("left right"), in rank order; empty for SentencePiece. */
    public String[] merges() {
        return merges.clone();
    }

    /** SentencePiece scores, one per token; null for BPE. */
    public float[] scores() {
        return scores == null ? null : scores.clone();
    }

    public int size() {
        return tokens.length;
    }

    /** Id of a token text, or -1. */
    public int id(String text) {
        for (int i = 0; i < tokens.length; i++) if (tokens[i].equals(text)) return i;
        return -1;
    }

    /**
     * A byte-level BPE vocabulary of exactly {@code size} tokens: {@code specials} (control tokens) first when
     * {@code specialsFirst}, else last, and {@code size - specials.length} byte and merged tokens.
     */
    public static SyntheticVocabulary build(int size, List<String> specials, boolean specialsFirst) {
        int first = specialsFirst ? 0 : size - specials.size();
        List<ModelShape.Special> placed = new ArrayList<>();
        for (int i = 0; i < specials.size(); i++)
            placed.add(new ModelShape.Special(first + i, specials.get(i), TYPE_CONTROL));
        return build(
                size,
                new ModelShape.TokenizerSpec(
                        "gpt2", "gpt-2", placed, -1, -1, null, null, null, null, false, null, null));
    }

    /** The vocabulary of {@code size} tokens that {@code spec} describes. */
    public static SyntheticVocabulary build(int size, ModelShape.TokenizerSpec spec) {
        boolean spm = spec.sentencePiece();
        if (!spm && !spec.model().equals("gpt2"))
            throw new IllegalArgumentException("tokenizer model '" + spec.model() + "' (synth writes gpt2 or llama)");
        String[] tokens = new String[size];
        int[] types = new int[size];
        for (ModelShape.Special s : spec.specials()) place(tokens, types, s.id(), s.text(), s.type());
        if (spm) {
            for (int b = 0; b < 256; b++)
                place(tokens, types, spec.bytesAt() + b, String.format("<0x%02X>", b), TYPE_BYTE);
        }
        int[] free = new int[size];
        int nFree = 0;
        for (int i = 0; i < size; i++) if (tokens[i] == null) free[nFree++] = i;
        int regular = spec.regular() < 0 ? nFree : spec.regular();
        if (regular > nFree || regular < (spm ? 95 : 256)) {
            throw new IllegalArgumentException("vocabulary of " + size + " with " + (size - nFree)
                    + " fixed tokens cannot hold " + regular + " regular tokens");
        }
        List<String> mergeList = new ArrayList<>();
        List<String> regularTokens = spm ? pieces(regular) : bpeTokens(regular, mergeList);
        Set<String> regularSet = new HashSet<>(regularTokens);
        for (ModelShape.Special s : spec.specials()) {
            if (regularSet.contains(s.text()))
                throw new IllegalArgumentException("special token " + s.text() + " collides with a regular token");
        }
        float[] scores = spm ? new float[size] : null;
        for (int k = 0; k < nFree; k++) {
            int id = free[k];
            if (k < regular) {
                tokens[id] = regularTokens.get(k);
                types[id] = TYPE_NORMAL;
                if (spm) scores[id] = -k;
            } else {
                tokens[id] = "[PAD" + id + "]";
                types[id] = TYPE_UNUSED;
            }
        }
        return new SyntheticVocabulary(tokens, types, mergeList.toArray(String[]::new), scores);
    }

    private static void place(String[] tokens, int[] types, int id, String text, int type) {
        if (id < 0 || id >= tokens.length)
            throw new IllegalArgumentException("token " + text + " at id " + id + " is outside the vocabulary");
        if (tokens[id] != null)
            throw new IllegalArgumentException("tokens " + tokens[id] + " and " + text + " both at id " + id);
        tokens[id] = text;
        types[id] = type;
    }

    /** {@code regular} byte-level BPE tokens (256 bytes, then one per merge), the merges appended to {@code merges}. */
    private static List<String> bpeTokens(int regular, List<String> merges) {
        List<String> regularTokens = new ArrayList<>(regular);
        Set<String> known = new HashSet<>();
        for (int b : byteOrder()) {
            String t = String.valueOf(BYTE_TO_CHAR[b]);
            regularTokens.add(t);
            known.add(t);
        }
        trainOnCorpus(regular - 256, regularTokens, known, merges);
        extendByLetters(regular, regularTokens, known, merges);
        return regularTokens;
    }

    /** {@code count} SentencePiece pieces: the single characters, then the BPE tokens in SentencePiece spelling. */
    private static List<String> pieces(int count) {
        List<String> out = new ArrayList<>(count);
        Set<String> seen = new HashSet<>();
        out.add(String.valueOf(SPM_SPACE));
        for (char c = '!'; c <= '~'; c++) out.add(String.valueOf(c));
        seen.addAll(out);
        char gpt2Space = BYTE_TO_CHAR[' '];
        List<String> bpe = bpeTokens(count + 256, new ArrayList<>());
        for (int i = 256; i < bpe.size() && out.size() < count; i++) {
            String t = bpe.get(i).replace(gpt2Space, SPM_SPACE);
            boolean plain = true;
            for (int j = 0; j < t.length() && plain; j++) {
                char c = t.charAt(j);
                plain = c == SPM_SPACE || (c >= '!' && c <= '~');
            }
            if (plain && seen.add(t)) out.add(t);
        }
        if (out.size() < count)
            throw new IllegalStateException(
                    "synthetic SentencePiece vocabulary exhausted at " + out.size() + " pieces");
        return out;
    }

    // --- GPT-2 byte <-> unicode mapping ---------------------------------------------------------------

    /**
     * GPT-2 shows each byte as a printable code point: printable Latin-1 bytes stand for themselves, the
     * others (controls, space, 0x7f-0xa0, 0xad) are shifted to U+0100 and up, e.g. space becomes 'Ġ'.
     */
    static final char[] BYTE_TO_CHAR = new char[256];

    static {
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            BYTE_TO_CHAR[b] = isSelfMapped(b) ? (char) b : (char) (256 + shifted++);
        }
    }

    private static boolean isSelfMapped(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    }

    /** Token order of the byte tokens in GPT-2's vocabulary: self-mapped bytes first, then the shifted ones. */
    private static int[] byteOrder() {
        int[] order = new int[256];
        int n = 0;
        for (int b = 0; b < 256; b++) if (isSelfMapped(b)) order[n++] = b;
        for (int b = 0; b < 256; b++) if (!isSelfMapped(b)) order[n++] = b;
        return order;
    }

    /** Text in the byte-level alphabet: every UTF-8 byte replaced by its GPT-2 character. */
    static String toByteLevel(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder(bytes.length);
        for (byte b : bytes) sb.append(BYTE_TO_CHAR[b & 0xff]);
        return sb.toString();
    }

    // --- phase 1: BPE training on the fixed text ------------------------------------------------------

    private static void trainOnCorpus(int maxMerges, List<String> tokens, Set<String> known, List<String> merges) {
        // Word frequencies after a GPT-2-like pre-split: a run of letters, digits or other symbols, each with
        // the space before it attached.
        Map<String, Integer> wordCounts = new LinkedHashMap<>();
        for (String word : preSplit(CORPUS)) wordCounts.merge(toByteLevel(word), 1, Integer::sum);
        List<List<String>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        for (Map.Entry<String, Integer> e : wordCounts.entrySet()) {
            List<String> symbols = new ArrayList<>();
            e.getKey().codePoints().forEach(cp -> symbols.add(new String(Character.toChars(cp))));
            words.add(symbols);
            counts.add(e.getValue());
        }
        while (merges.size() < maxMerges) {
            Map<String, Integer> pairCounts = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                List<String> s = words.get(w);
                for (int i = 0; i + 1 < s.size(); i++)
                    pairCounts.merge(s.get(i) + " " + s.get(i + 1), counts.get(w), Integer::sum);
            }
            String best = null;
            int bestCount = 1;
            for (Map.Entry<String, Integer> e : pairCounts.entrySet()) {
                int c = e.getValue();
                if (c > bestCount
                        || (c == bestCount && best != null && e.getKey().compareTo(best) < 0)) {
                    best = e.getKey();
                    bestCount = c;
                }
            }
            if (best == null) return;
            int sp = best.indexOf(' ');
            String left = best.substring(0, sp), right = best.substring(sp + 1), joined = left + right;
            for (List<String> s : words) {
                for (int i = 0; i + 1 < s.size(); i++) {
                    if (s.get(i).equals(left) && s.get(i + 1).equals(right)) {
                        s.set(i, joined);
                        s.remove(i + 1);
                    }
                }
            }
            if (known.add(joined)) {
                tokens.add(joined);
                merges.add(best);
            }
        }
    }

    private static List<String> preSplit(String text) {
        List<String> out = new ArrayList<>();
        int i = 0, n = text.length();
        while (i < n) {
            int start = i;
            if (text.charAt(i) == ' ' && i + 1 < n && text.charAt(i + 1) != ' ') i++;
            int kind = kind(text.charAt(i));
            i++;
            while (i < n && kind(text.charAt(i)) == kind && kind != 3) i++;
            out.add(text.substring(start, i));
        }
        return out;
    }

    private static int kind(char c) {
        if (Character.isLetter(c)) return 0;
        if (Character.isDigit(c)) return 1;
        if (Character.isWhitespace(c)) return 3;
        return 2;
    }

    // --- phase 2: systematic extension ----------------------------------------------------------------

    private static final String LETTERS = "etaoinshrdlcumwfgypbvkjxqz";

    private static void extendByLetters(int target, List<String> tokens, Set<String> known, List<String> merges) {
        char space = BYTE_TO_CHAR[' '];
        for (int i = 0; tokens.size() < target; i++) {
            if (i >= tokens.size())
                throw new IllegalStateException("synthetic vocabulary exhausted at " + tokens.size() + " tokens");
            String base = tokens.get(i);
            if (!isWordPiece(base, space) || base.length() >= 12) continue;
            for (int l = 0; l < LETTERS.length() && tokens.size() < target; l++) {
                String letter = String.valueOf(LETTERS.charAt(l));
                String joined = base + letter;
                if (known.add(joined)) {
                    tokens.add(joined);
                    merges.add(base + " " + letter);
                }
            }
        }
    }

    /** Lowercase letters, optionally after the byte-level space: the tokens worth growing into words. */
    private static boolean isWordPiece(String t, char space) {
        int from = t.charAt(0) == space ? 1 : 0;
        if (from == t.length() && from == 1) return true;
        for (int i = from; i < t.length(); i++) {
            char c = t.charAt(i);
            if (c < 'a' || c > 'z') return false;
        }
        return from < t.length();
    }

    /** Fixed training text (original prose, written for this purpose). */
    private static final String CORPUS = String.join(
            " ",
            Arrays.asList(
                    "Once there was a small town at the edge of a wide green valley. The people of the town worked in the",
                    "fields during the day and told stories by the fire at night. Every morning the baker opened his shop",
                    "before the sun came up, and the smell of fresh bread filled the streets. Children ran to school with",
                    "their books under their arms, and the old teacher waited for them at the door with a kind smile.",
                    "One day a stranger walked into the town. He carried a heavy bag on his back and a long wooden stick in",
                    "his hand. Nobody knew where he had come from, but he looked tired and hungry. The baker gave him a loaf",
                    "of bread and a cup of warm milk. The stranger thanked him and asked if there was a place where he could",
                    "sleep. The teacher said that the school had an empty room above the library, and the stranger was",
                    "welcome to stay there for as long as he needed.",
                    "In the weeks that followed, the stranger helped the farmers repair their fences and showed the children",
                    "how to build small boats that could float on the river. He knew the names of every star in the sky and",
                    "every bird in the forest. In the evening he would sit with the people of the town and listen to their",
                    "stories, and sometimes he would tell a story of his own about the cities he had seen and the mountains",
                    "he had climbed. The children loved him, and even the oldest farmers said that the town had never been",
                    "so happy.",
                    "When the winter came, the river froze and the roads were covered with snow. The stranger told the",
                    "people that it was time for him to leave. They asked him to stay, but he said that there were other",
                    "towns and other people who needed help. On the morning he left, the whole town walked with him to the",
                    "bridge. The baker gave him bread for the journey, the teacher gave him a book, and the children gave",
                    "him a small wooden boat they had built together. He smiled, waved, and walked away into the white",
                    "valley. The people of the town never forgot him, and every winter they told his story by the fire.",
                    "Computers read text as numbers. A tokenizer splits the text into pieces and gives every piece a number,",
                    "and a language model learns which numbers are likely to follow the ones it has already seen. The model",
                    "is a large function with many parameters, and running it on a processor means multiplying matrices,",
                    "normalizing vectors and choosing the next token from a probability distribution. Small models can run",
                    "on an ordinary laptop, while larger models need more memory and faster hardware. The quality of the",
                    "answer depends on the data, the size of the model and the way the next token is sampled. In 2024 and",
                    "2025 many open models were released with between 100 million and 10 billion parameters."));
}
