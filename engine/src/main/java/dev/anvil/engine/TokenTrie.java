package dev.anvil.engine;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * A vocabulary's decoded token bytes as a prefix tree, for computing which tokens a {@link GrammarState} allows.
 *
 * <p>Checking every token against the grammar on its own would walk each token's bytes from the state, the shared
 * prefixes of thousands of tokens again and again. The trie walks each distinct prefix once, depth first, and
 * skips a whole subtree as soon as its prefix cannot continue the output: in a state that expects {@code "} or a
 * digit, all tokens starting with a letter go at the first byte. That is llama.cpp's grammar sampler's idea (there
 * done by sorting candidates per code point); the trie is laid out in preorder in flat arrays, so the walk is one
 * loop with a state per depth and a jump over a dead subtree.
 *
 * <p>Masks are cached per state, as XGrammar caches per grammar position: output under a grammar keeps returning
 * to the same states (inside a string, after a comma, between digits), and a hit costs a hash lookup instead of a
 * walk. The cache is per vocabulary, shared by every sequence and grammar on it (states compare by grammar
 * instance), bounded by {@link #CACHE_BYTES} and evicted least recently used.
 *
 * <p>Tokens without bytes (control tokens) are never allowed; end-of-generation tokens are allowed exactly where
 * the state {@link GrammarState#canEnd() may end}. Thread-safe.
 */
public final class TokenTrie {

    /** Byte budget of the mask cache of one vocabulary. */
    static final long CACHE_BYTES = 32L << 20;

    private static final Map<Tokenizer, TokenTrie[]> TRIES = new WeakHashMap<>();

    private final int vocabSize;
    /** Preorder nodes (0 is the root): the byte on the edge into the node, its depth, the end of its subtree. */
    private final byte[] nodeByte;

    private final int[] nodeDepth, subtreeEnd;
    /** Tokens whose bytes end at node i: tokens[tokenStart[i] .. tokenStart[i + 1]). */
    private final int[] tokenStart, tokens;

    private final int[] endOfGeneration;
    private final int maxDepth;
    private final long[] endOfGenerationMask;
    private final LinkedHashMap<GrammarState, long[]> cache;
    private final int cacheEntries;
    private long hits, misses;

    /**
     * The trie of a tokenizer's vocabulary, built once and kept while the tokenizer lives. With {@code
     * dropLeadingSpace}, a token's leading space is left out, as the detokenizer does for the first token of a
     * SentencePiece text ({@link TokenDecoder}).
     */
    public static TokenTrie of(Tokenizer tokenizer, boolean dropLeadingSpace) {
        synchronized (TRIES) {
            TokenTrie[] pair = TRIES.computeIfAbsent(tokenizer, t -> new TokenTrie[2]);
            int i = dropLeadingSpace ? 1 : 0;
            if (pair[i] == null) pair[i] = new TokenTrie(tokenizer, dropLeadingSpace);
            return pair[i];
        }
    }

    public static TokenTrie of(Tokenizer tokenizer) {
        return of(tokenizer, false);
    }

    TokenTrie(Tokenizer tokenizer, boolean dropLeadingSpace) {
        int n = tokenizer.vocabSize();
        this.vocabSize = n;
        byte[][] bytes = new byte[n][];
        int[] eog = new int[n];
        int eogCount = 0, usable = 0;
        for (int id = 0; id < n; id++) {
            if (tokenizer.isEndOfGeneration(id)) {
                eog[eogCount++] = id;
                continue;
            }
            byte[] b = tokenizer.tokenBytes(id);
            if (dropLeadingSpace && b.length > 0 && b[0] == ' ') b = Arrays.copyOfRange(b, 1, b.length);
            if (b.length == 0) continue;
            bytes[id] = b;
            usable++;
        }
        endOfGeneration = Arrays.copyOf(eog, eogCount);
        Integer[] order = new Integer[usable];
        for (int id = 0, k = 0; id < n; id++) if (bytes[id] != null) order[k++] = id;
        Arrays.sort(order, (a, b) -> Arrays.compareUnsigned(bytes[a], bytes[b]));

        // Preorder build: sorted keys make every subtree a contiguous run, and a prefix comes before its extensions.
        int capacity = 1;
        for (Integer id : order) capacity += bytes[id].length;
        byte[] nb = new byte[capacity];
        int[] nd = new int[capacity], end = new int[capacity], ts = new int[capacity + 1];
        int[] toks = new int[usable];
        int nodes = 1, tokenCount = 0, deepest = 0;
        byte[] prev = new byte[0];
        for (Integer idBoxed : order) {
            int id = idBoxed;
            byte[] b = bytes[id];
            int common = 0;
            while (common < prev.length && common < b.length && prev[common] == b[common]) common++;
            for (int d = common + 1; d <= b.length; d++) {
                nb[nodes] = b[d - 1];
                nd[nodes] = d;
                ts[nodes++] = tokenCount;
            }
            deepest = Math.max(deepest, b.length);
            // Sorted order puts a token right after the creation of its own node (equal byte strings share it), so
            // node i's tokens are those appended between node i's creation and node i+1's.
            toks[tokenCount++] = id;
            prev = b;
        }
        ts[nodes] = tokenCount;
        // Subtree ends: a node's subtree runs until the next node at the same or a smaller depth.
        int[] stack = new int[deepest + 2];
        int sp = 0;
        for (int i = 1; i < nodes; i++) {
            while (sp > 0 && nd[stack[sp - 1]] >= nd[i]) end[stack[--sp]] = i;
            stack[sp++] = i;
        }
        while (sp > 0) end[stack[--sp]] = nodes;
        end[0] = nodes;
        nodeByte = Arrays.copyOf(nb, nodes);
        nodeDepth = Arrays.copyOf(nd, nodes);
        subtreeEnd = Arrays.copyOf(end, nodes);
        tokenStart = Arrays.copyOf(ts, nodes + 1);
        tokens = toks;
        maxDepth = deepest;
        endOfGenerationMask = new long[words()];
        for (int id : endOfGeneration) endOfGenerationMask[id >>> 6] |= 1L << id;
        cacheEntries = (int) Math.max(16, CACHE_BYTES / (8L * words() + 64));
        cache = new LinkedHashMap<>(64, 0.75f, true);
    }

    private int words() {
        return (vocabSize + 63) >>> 6;
    }

    public int vocabSize() {
        return vocabSize;
    }

    /** Number of trie nodes (distinct non-empty token prefixes). */
    public int nodeCount() {
        return nodeByte.length - 1;
    }

    /** Whether the vocabulary has a token that ends generation; constrained decoding needs one. */
    public boolean hasEndOfGeneration() {
        return endOfGeneration.length > 0;
    }

    /** A mask allowing only the end-of-generation tokens. Do not modify. */
    long[] endOfGenerationMask() {
        return endOfGenerationMask;
    }

    /**
     * The tokens {@code state} allows, as a bitset over token ids (bit {@code id & 63} of word {@code id >>> 6}).
     * Shared with the cache: do not modify.
     */
    public long[] mask(GrammarState state) {
        synchronized (cache) {
            long[] m = cache.get(state);
            if (m != null) {
                hits++;
                return m;
            }
            misses++;
        }
        long[] m = compute(state);
        synchronized (cache) {
            cache.put(state, m);
            if (cache.size() > cacheEntries) {
                var it = cache.entrySet().iterator();
                it.next();
                it.remove();
            }
        }
        return m;
    }

    /** The mask without the cache: one walk of the trie. */
    long[] compute(GrammarState state) {
        long[] m = new long[words()];
        if (state.canEnd()) System.arraycopy(endOfGenerationMask, 0, m, 0, m.length);
        GrammarState[] at = new GrammarState[maxDepth + 1];
        at[0] = state;
        int n = nodeByte.length;
        for (int i = 1; i < n; ) {
            GrammarState s = at[nodeDepth[i] - 1].advance(nodeByte[i]);
            if (s == null) {
                i = subtreeEnd[i];
                continue;
            }
            at[nodeDepth[i]] = s;
            for (int k = tokenStart[i]; k < tokenStart[i + 1]; k++) {
                int id = tokens[k];
                m[id >>> 6] |= 1L << id;
            }
            i++;
        }
        return m;
    }

    /** Cache hits and misses since the trie was built (for benchmarks). */
    public long[] cacheCounts() {
        synchronized (cache) {
            return new long[] {hits, misses};
        }
    }

    /** Empties the mask cache (benchmarks measure the walk this way). */
    public void clearCache() {
        synchronized (cache) {
            cache.clear();
        }
    }

    static boolean isEmpty(long[] mask) {
        for (long w : mask) if (w != 0) return false;
        return true;
    }

    static boolean allows(long[] mask, int id) {
        return (mask[id >>> 6] >>> id & 1) != 0;
    }
}
