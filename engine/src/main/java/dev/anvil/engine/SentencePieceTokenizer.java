package dev.anvil.engine;

import java.nio.charset.StandardCharsets;

/**
 * SentencePiece-style BPE as llama.cpp runs it for {@code tokenizer.ggml.model = llama}: the text gets a dummy
 * space prefix, spaces become {@code ▁}, the text is split into UTF-8 characters, and adjacent symbols are
 * merged greedily, highest vocabulary score first (leftmost on ties), as long as the merged text is a token.
 * Symbols that never became tokens fall back to {@code <0xXX>} byte tokens.
 */
public final class SentencePieceTokenizer implements Tokenizer {

    private static final char SPACE_MARK = '\u2581'; // ▁
    private static final byte[] EMPTY = new byte[0];
    private static final byte[] UNKNOWN_PIECE = "\u2585".getBytes(StandardCharsets.UTF_8); // llama.cpp shows <unk> as ▅

    private final Vocabulary vocab;
    private final boolean addSpacePrefix;
    /** Byte value to its {@code <0xXX>} token (or single-character token), -1 when the vocabulary has neither. */
    private final int[] byteTokens = new int[256];
    /** Decoded bytes of every token, precomputed because streaming decode asks for them once per generated token. */
    private final byte[][] pieces;

    public SentencePieceTokenizer(Vocabulary vocab, boolean addSpacePrefix) {
        this.vocab = vocab;
        this.addSpacePrefix = addSpacePrefix;
        for (int b = 0; b < 256; b++) {
            int id = vocab.id(String.format("<0x%02X>", b));
            if (id < 0 && b < 0x80) id = vocab.id(String.valueOf((char) b));
            byteTokens[b] = id;
        }
        pieces = new byte[vocab.size()][];
        for (int id = 0; id < pieces.length; id++) pieces[id] = piece(id);
    }

    static SentencePieceTokenizer fromGguf(GgufFile gguf) {
        String[] tokens = gguf.getStringArray("tokenizer.ggml.tokens");
        if (tokens == null) throw new UnsupportedModelException(gguf.path() + ": tokenizer.ggml.tokens is missing");
        Vocabulary vocab = new Vocabulary(
                tokens,
                gguf.getFloatArray("tokenizer.ggml.scores"),
                gguf.getIntArray("tokenizer.ggml.token_type"),
                gguf.getInt("tokenizer.ggml.bos_token_id", 1),
                gguf.getInt("tokenizer.ggml.eos_token_id", 2),
                gguf.getInt("tokenizer.ggml.unknown_token_id", 0),
                gguf.getInt("tokenizer.ggml.padding_token_id", -1),
                gguf.getInt("tokenizer.ggml.eot_token_id", -1),
                gguf.getBoolean("tokenizer.ggml.add_bos_token", true),
                gguf.getBoolean("tokenizer.ggml.add_eos_token", false));
        return new SentencePieceTokenizer(vocab, gguf.getBoolean("tokenizer.ggml.add_space_prefix", true));
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        IntList out = new IntList();
        if (addBos) out.add(vocab.requireBos());
        // llama.cpp prefixes a space to the first text fragment and to every fragment that follows a special token.
        boolean previousWasSpecial = true;
        for (Vocabulary.Fragment fragment : vocab.partition(text, parseSpecial)) {
            if (fragment.isText()) {
                String raw = addSpacePrefix && previousWasSpecial ? " " + fragment.text() : fragment.text();
                tokenize(raw.replace(' ', SPACE_MARK), out);
                previousWasSpecial = false;
            } else {
                out.add(fragment.token());
                previousWasSpecial = true;
            }
        }
        return out.toArray();
    }

    private void tokenize(String text, IntList out) {
        int n = text.length();
        if (n == 0) return;
        // Symbols are code points, kept as a doubly linked list over [start, start+length) ranges of the text.
        int[] start = new int[n], length = new int[n], prev = new int[n], next = new int[n];
        int count = 0;
        for (int i = 0; i < n; ) {
            int len = Character.charCount(text.codePointAt(i));
            start[count] = i;
            length[count] = len;
            prev[count] = count - 1;
            next[count] = i + len == n ? -1 : count + 1;
            count++;
            i += len;
        }
        // Candidates are (descending score key << 32 | left index): the heap yields the best score, then the leftmost.
        LongHeap queue = new LongHeap(count);
        for (int i = 1; i < count; i++) offerBigram(text, i - 1, i, start, length, queue);

        while (!queue.isEmpty()) {
            long candidate = queue.poll();
            int left = (int) candidate;
            int right = next[left];
            if (length[left] == 0 || right < 0) continue;
            // The candidate is current when the pair now at `left` is a token with the same score: then an
            // identical, current entry exists, and merging now is exactly what llama.cpp's queue would do.
            int pair = vocab.id(text, start[left], length[left] + length[right]);
            if (pair < 0 || scoreKey(vocab.score(pair)) != (int) (candidate >>> 32)) continue;
            length[left] += length[right];
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            if (prev[left] >= 0) offerBigram(text, prev[left], left, start, length, queue);
            if (next[left] >= 0) offerBigram(text, left, next[left], start, length, queue);
        }

        for (int s = 0; s >= 0; s = next[s]) {
            int id = vocab.id(text, start[s], length[s]);
            if (id >= 0) {
                out.add(id);
            } else {
                String piece = text.substring(start[s], start[s] + length[s]);
                for (byte b : piece.getBytes(StandardCharsets.UTF_8)) out.add(byteToken(b & 0xFF, piece));
            }
        }
    }

    private void offerBigram(String text, int left, int right, int[] start, int[] length, LongHeap queue) {
        int id = vocab.id(text, start[left], length[left] + length[right]);
        if (id >= 0) queue.add((long) scoreKey(vocab.score(id)) << 32 | left);
    }

    /** An int that orders like the score reversed (higher score = smaller key), for the min-heap. */
    private static int scoreKey(float score) {
        int bits = Float.floatToIntBits(score);
        if (bits < 0) bits ^= 0x7FFFFFFF; // negative floats: make the signed-int order match the float order
        return ~bits;
    }

    private int byteToken(int b, String piece) {
        int id = byteTokens[b];
        if (id >= 0) return id;
        if (vocab.unk() >= 0) return vocab.unk();
        throw new IllegalArgumentException(String.format(
                "cannot tokenize '%s': the vocabulary has no token for byte 0x%02X and no unknown token", piece, b));
    }

    private byte[] piece(int id) {
        return switch (vocab.type(id)) {
            case TYPE_NORMAL -> vocab.text(id).replace(SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8);
            case TYPE_USER_DEFINED -> vocab.text(id).getBytes(StandardCharsets.UTF_8);
            case TYPE_BYTE -> new byte[] {(byte) parseByteToken(vocab.text(id))};
            case TYPE_UNKNOWN -> UNKNOWN_PIECE;
            default -> EMPTY; // control and unused tokens render as nothing
        };
    }

    private static int parseByteToken(String text) {
        if (text.length() == 6 && text.startsWith("<0x") && text.endsWith(">")) {
            try {
                return Integer.parseInt(text.substring(3, 5), 16);
            } catch (NumberFormatException ignored) {
                // fall through to the error below
            }
        }
        throw new UnsupportedModelException("byte token '" + text + "' is not of the form <0xXX>");
    }

    @Override
    public byte[] tokenBytes(int id) {
        return pieces[vocab.check(id)].clone();
    }

    @Override
    public boolean addsSpacePrefix() {
        return addSpacePrefix;
    }

    @Override
    public Vocabulary vocabulary() {
        return vocab;
    }

    @Override
    public String toString() {
        return "SentencePieceTokenizer[" + vocab.size() + " tokens]";
    }
}
