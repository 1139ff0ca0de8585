package dev.anvil.engine;

import java.util.Arrays;
import java.util.HashMap;

/**
 * Paged key/value cache for continuous batching (the vLLM "PagedAttention" layout), aware of sliding-window
 * attention. Memory is a pool of fixed-size blocks; a block holds keys and values of {@link #BLOCK_TOKENS}
 * consecutive positions of one sequence for every layer of one <em>layer group</em>. Each {@link Sequence} owns a
 * block table per group (position {@code p} of a layer lives in block {@code table[group][p / BLOCK_TOKENS]}), grows
 * one block per group at a time through {@link #reserve} and gives everything back with {@link #free}. Running out
 * of blocks is a checked {@link KvCacheFullException}, never an allocation failure, so a scheduler can preempt a
 * sequence and retry.
 *
 * <p>Layer groups: layers are grouped by their attention window ({@code 0} = full attention; a window {@code W}
 * means the token at position {@code p} reads positions {@code p-W+1 .. p} only, as in Gemma 2/3's local layers or
 * Mistral's sliding window). A model without sliding layers (Llama) has exactly one group holding every layer:
 * one table per sequence and today's block layout. A sliding group's blocks whose every position is below
 * {@code length - W + 1} are never read again by any later token, so they go back to the pool as soon as a forward
 * pass advances the sequence past them (the table entry becomes {@code -1}; indices of the others do not move).
 * A long sequence then holds {@code ceil(L/16)} blocks in each full group and about {@code ceil(W/16) + 1} in each
 * sliding group. Full-attention layers never release, which is why they cannot share blocks with sliding layers.
 * A prompt prefilled in chunks is admitted with {@link #reserve(Sequence, int, int)}: its sliding groups hold the
 * blocks of one chunk plus a credit for what the largest later chunk reads, so every later chunk's reservation
 * succeeds without the prompt's whole length being held in sliding layers at any moment.
 *
 * <p>Accounting: the groups have different numbers of layers, so their blocks have different sizes. The pool counts
 * in <em>units</em> of 16 positions of {@code unitLayers} layers, {@code unitLayers} being the greatest common
 * divisor of the groups' layer counts: a group's block costs a whole number of units and one byte budget covers all
 * groups exactly. With one group a unit is a block, so {@link #totalBlocks()}, {@link #freeBlocks()},
 * {@link #usedBlocks()} and {@link Sequence#blockCount()} count blocks exactly as before; with several groups they
 * count units (a Gemma pool reports more, smaller "blocks"). Schedulers must ask the pool what a length costs
 * ({@link #blocksToHold}, {@link #blocksNeeded}) rather than compute {@link #blocksFor} themselves.
 *
 * <p>Storage choice: one {@code float[]} per block, allocated on first use, so a pool takes only the memory its
 * busiest moment needed. Freed blocks keep their array for reuse; when a new array would push the arrays held past
 * the budget (blocks freed in one group, needed in another) cached arrays of free blocks are dropped first, so the
 * memory held never exceeds the budget. Float32 because the attention kernels read it with
 * {@code FloatVector.fromArray}, the fastest load the Vector API has; this JDK's Vector API has no half-to-float
 * lane conversion, so an F16 cache would have to be widened with scalar code on every attention step. (The forward
 * pass rounds the values it stores to fp16 precision, matching llama.cpp's default F16 cache; a {@code short[]}
 * store would hold them exactly in half the memory at the price of that scalar widening — not measured yet.) Heap
 * arrays rather than an off-heap segment because array access needs no segment liveness checks in the hot loop and
 * primitive arrays cost the garbage collector nothing to scan; the server sizes its heap for the budget.
 *
 * <p>Automatic prefix caching (as vLLM's): a full block whose 16 positions were all computed is immutable, so it
 * can be shared. {@link #cacheBlocks} enters a sequence's full blocks into a table keyed by the block's tokens
 * chained with its prefix: the key of block {@code i} is (namespace, the cache serial of block {@code i-1}, its 16
 * tokens), hashed by a 64-bit hash chained over the whole prefix, compared exactly (so a hash collision can never
 * share the wrong keys and values; the parent's serial is unique for the pool's lifetime, which makes the chain
 * exact). The namespace is an object compared by identity standing for everything else that determines the KV
 * (the scheduler passes its model instance, so two models never share even when a pool were shared). A sequence
 * created with a namespace ({@link #newSequence(Object)}) and reserved with {@link #reserveWithPrefix} starts with
 * the longest chain of cached blocks its context begins with, each block's reference count raised, and its length
 * set past them: the forward pass computes only the rest. A sequence never writes into a shared block: only full,
 * computed blocks are cached, a hit always leaves at least one token to compute (so the last, partially filled
 * block is the sequence's own), the forward pass refuses to start inside the cached prefix, and {@link #truncate}
 * copies a shared block before a sequence may write into it. When a sequence ends its blocks' references drop; a
 * cached block nobody holds stays cached and counts as free: {@link #freeBlocks()} is what a reservation can get,
 * free blocks first, then the least recently released cached blocks, evicted from the table as they are taken.
 * A sequence releases its blocks last first, so a prefix's tail is evicted before its head (the head is what most
 * requests share). Sharing is off in pools whose sliding-window layers release blocks ({@link
 * #prefixCachingSupported()}): a sliding block is returned to the pool while the sequence is still prefilling,
 * so a later request could not find the window's blocks of a prefix, and the keys of a sliding layer cannot be
 * computed without running every layer over the whole prefix anyway.
 *
 * <p>Layout inside a block: {@code [layer of the group][k=0|v=1][slot][kvDim]}. Thread-safe: reservations and
 * frees may come from any thread; the forward pass only reads/writes blocks a sequence already owns.
 */
public final class KvCachePool {

    /** Token positions per block. */
    public static final int BLOCK_TOKENS = 16;

    private final ModelConfig config;
    private final int kvDim;
    /** Per layer: its window (0 = full attention), its group, its index inside the group's blocks. */
    private final int[] layerWindow, layerGroup, layerSlot;
    /** Per group: window (0 = full), units one block costs, floats in one block. */
    private final int[] groupWindow, groupUnits, groupFloats;
    /** Units of one position block across every group: what one more block of table costs. */
    private final int unitsPerStep;
    /** Layers in one accounting unit. */
    private final int unitLayers;
    /** False only for reference pools in tests: windows mask attention but nothing is released. */
    private final boolean releaseOutsideWindow;

    private final float[][][] blocks; // [group][block id], null until first used
    private final int[][] freeStack; // [group]: ids of free blocks, the next one to hand out on top
    private final int[] freeTop;
    private final int totalUnits;
    private int freeUnits;
    /** Units whose memory is allocated (non-null arrays), never above {@link #totalUnits}. */
    private int allocatedUnits;

    /** [group][block id]: sequences whose table holds the block (0 for a free or evictable block). */
    private final int[][] refs;
    /** Whether blocks may be shared: one group of full-attention layers (see the class comment). */
    private final boolean prefixCaching;
    /** Group 0's cached blocks by content; {@code keyOf[id]} is the key of a cached block, null otherwise. */
    private final HashMap<BlockKey, Integer> cached = new HashMap<>();

    private final BlockKey[] keyOf;
    /** Evictable blocks (cached, no reference), a doubly linked list by id: least recently released first. */
    private final int[] lruPrev, lruNext;

    private int lruHead = -1, lruTail = -1, evictable;
    private long nextSerial = 1, evictions;

    /**
     * A pool with the model's own attention windows ({@link ModelConfig#layerWindows}: full attention in every layer
     * of Llama, the sliding window in Gemma's local layers): as many blocks as fit in {@code byteBudget} (at least
     * one).
     */
    public KvCachePool(ModelConfig config, long byteBudget) {
        this(config, config.layerWindows(), byteBudget, true);
    }

    /**
     * A pool for a model with sliding-window layers: {@code layerWindow[l]} is layer {@code l}'s attention window in
     * positions (0, or one at least the context length, for full attention). The forward pass masks attention with
     * these windows, and blocks outside every window are released as sequences grow.
     */
    public KvCachePool(ModelConfig config, int[] layerWindow, long byteBudget) {
        this(config, layerWindow, byteBudget, true);
    }

    /** With {@code releaseOutsideWindow = false}: windows mask attention but no block is released (a reference). */
    KvCachePool(ModelConfig config, int[] layerWindow, long byteBudget, boolean releaseOutsideWindow) {
        this.config = config;
        this.kvDim = config.kvDim();
        this.releaseOutsideWindow = releaseOutsideWindow;
        int layers = config.layers();
        if (layerWindow == null || layerWindow.length != layers) {
            throw new IllegalArgumentException("need one attention window per layer (" + layers + "), got "
                    + (layerWindow == null ? "none" : String.valueOf(layerWindow.length)));
        }
        this.layerWindow = new int[layers];
        for (int l = 0; l < layers; l++) {
            if (layerWindow[l] < 0)
                throw new IllegalArgumentException("layer " + l + " has a negative attention window " + layerWindow[l]);
            // A window covering the whole context is full attention: it would never release anything.
            this.layerWindow[l] = layerWindow[l] >= config.contextLength() ? 0 : layerWindow[l];
            int own = config.slidingWindow(l) >= config.contextLength() ? 0 : config.slidingWindow(l);
            if (own != 0 && this.layerWindow[l] != own) {
                throw new IllegalArgumentException("layer " + l + " of this model attends to a sliding window of " + own
                        + " positions; the pool cannot give it " + layerWindow[l]);
            }
        }
        // One group per distinct window, in order of first appearance (so a Llama pool has the single group 0).
        int[] windows = Arrays.stream(this.layerWindow).distinct().toArray();
        int groups = windows.length;
        this.groupWindow = windows;
        this.layerGroup = new int[layers];
        this.layerSlot = new int[layers];
        int[] groupLayers = new int[groups];
        for (int l = 0; l < layers; l++) {
            int g = 0;
            while (windows[g] != this.layerWindow[l]) g++;
            layerGroup[l] = g;
            layerSlot[l] = groupLayers[g]++;
        }
        int gcd = groupLayers[0];
        for (int n : groupLayers) gcd = gcd(gcd, n);
        this.unitLayers = gcd;
        long unitBytes = (long) unitLayers * 2 * BLOCK_TOKENS * kvDim * Float.BYTES;
        if (unitBytes * (layers / unitLayers) > (long) (Integer.MAX_VALUE - 16) * Float.BYTES)
            throw new IllegalArgumentException("KV block too large for model " + config);
        this.groupUnits = new int[groups];
        this.groupFloats = new int[groups];
        for (int g = 0; g < groups; g++) {
            groupUnits[g] = groupLayers[g] / unitLayers;
            groupFloats[g] = groupLayers[g] * 2 * BLOCK_TOKENS * kvDim;
        }
        this.unitsPerStep = layers / unitLayers;
        if (byteBudget < bytesPerBlock(config)) {
            throw new IllegalArgumentException("KV cache budget of " + byteBudget + " bytes is smaller than one block ("
                    + bytesPerBlock(config) + " bytes)");
        }
        long units = byteBudget / unitBytes;
        if (units > Integer.MAX_VALUE / 2)
            throw new IllegalArgumentException("KV cache budget too large: " + byteBudget);
        this.totalUnits = (int) units;
        this.freeUnits = totalUnits;
        // Block ids per group: as many as the whole budget could hold of that group's blocks. Handed out lowest
        // first, freed ones reused first.
        this.blocks = new float[groups][][];
        this.freeStack = new int[groups][];
        this.freeTop = new int[groups];
        for (int g = 0; g < groups; g++) {
            int count = totalUnits / groupUnits[g];
            blocks[g] = new float[count][];
            freeStack[g] = new int[count];
            for (int i = 0; i < count; i++) freeStack[g][i] = count - 1 - i;
            freeTop[g] = count;
        }
        this.refs = new int[groups][];
        for (int g = 0; g < groups; g++) refs[g] = new int[blocks[g].length];
        this.prefixCaching = groups == 1 && groupWindow[0] == 0;
        int cacheable = prefixCaching ? blocks[0].length : 0;
        this.keyOf = new BlockKey[cacheable];
        this.lruPrev = new int[cacheable];
        this.lruNext = new int[cacheable];
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /**
     * Bytes of one 16-position block across every layer of a model of this shape: the cost of 16 more positions of a
     * sequence without sliding-window release, and the smallest budget a pool accepts.
     */
    public static long bytesPerBlock(ModelConfig config) {
        return (long) config.layers() * 2 * BLOCK_TOKENS * config.kvDim() * Float.BYTES;
    }

    /** Bytes one accounting unit (what {@link #totalBlocks()} and friends count) takes in this pool. */
    public long bytesPerUnit() {
        return (long) unitLayers * 2 * BLOCK_TOKENS * kvDim * Float.BYTES;
    }

    public ModelConfig config() {
        return config;
    }

    /** Attention window of {@code layer} in positions; 0 for full attention. */
    public int window(int layer) {
        return layerWindow[layer];
    }

    /** Units the budget holds (blocks, for a pool without sliding layers). */
    public int totalBlocks() {
        return totalUnits;
    }

    /** Units a reservation can take: free ones and cached ones no sequence holds (evicted when taken). */
    public synchronized int freeBlocks() {
        return freeUnits;
    }

    /** Whether this pool shares prefix blocks: false when sliding-window layers release blocks. */
    public boolean prefixCachingSupported() {
        return prefixCaching;
    }

    /** Blocks holding a cached prefix, held by sequences or evictable. */
    public synchronized int cachedBlocks() {
        return cached.size();
    }

    /** Cached blocks no sequence holds: kept for later requests, given out (evicted) when nothing else is free. */
    public synchronized int evictableBlocks() {
        return evictable;
    }

    /** Cached blocks evicted to make room since the pool was made. */
    public synchronized long evictions() {
        return evictions;
    }

    public synchronized int usedBlocks() {
        return totalUnits - freeUnits;
    }

    /** Units whose memory is allocated: at most {@link #totalBlocks()} (taken on first use, then kept for reuse). */
    public synchronized int allocatedBlocks() {
        return allocatedUnits;
    }

    /** 16-position blocks needed to cover {@code tokens} positions (per layer group). */
    public static int blocksFor(int tokens) {
        return (tokens + BLOCK_TOKENS - 1) / BLOCK_TOKENS;
    }

    /**
     * Units a new sequence takes when {@code length} positions are reserved at once ({@code reserve(fresh, length)}).
     */
    public int blocksToHold(int length) {
        return blocksFor(length) * unitsPerStep;
    }

    /**
     * Units a new sequence takes for {@link #reserve(Sequence, int, int) reserve(fresh, length, chunkTokens)}: every
     * block of a full-attention group, and in a sliding group only the most blocks one chunk of at most
     * {@code chunkTokens} reads. Also the most a sequence of final length {@code length} can hold at once when it is
     * (re)admitted that way and then decoded: the admission and submission check of a scheduler.
     */
    public int blocksToHold(int length, int chunkTokens) {
        int units = 0;
        for (int g = 0; g < groupWindow.length; g++) {
            int blocks = blocksFor(length);
            if (groupWindow[g] != 0) blocks = Math.min(blocks, chunkBlocks(g, chunkTokens));
            units += blocks * groupUnits[g];
        }
        return units;
    }

    /**
     * The most blocks of sliding group {@code g} that one chunk of at most {@code chunkTokens} tokens reads: its
     * positions {@code s-W+1 .. s+chunk-1} span {@code W+chunk-1} positions, which touch at most
     * {@code (W+chunk-2)/16 + 2} blocks however they are aligned.
     */
    private int chunkBlocks(int g, int chunkTokens) {
        int chunk = Math.min(chunkTokens, config.contextLength()); // no chunk is longer; keeps the sum an int
        return (groupWindow[g] + chunk - 2) / BLOCK_TOKENS + 2;
    }

    /** Units {@link #reserve reserve(seq, length)} would take from the pool now (0 when the room is there). */
    public synchronized int blocksNeeded(Sequence seq, int length) {
        checkOwner(seq);
        return growthUnits(seq, blocksFor(length));
    }

    /** Units from the pool to extend every group of {@code seq} to {@code newSize} entries, credits used first. */
    private int growthUnits(Sequence seq, int newSize) {
        int need = 0;
        for (int g = 0; g < groupWindow.length; g++)
            need += Math.max(0, newSize - seq.size[g] - seq.credit[g]) * groupUnits[g];
        return need;
    }

    /** A new, empty sequence (no blocks until {@link #reserve}) that neither uses nor fills the prefix cache. */
    public Sequence newSequence() {
        return new Sequence(this, null);
    }

    /**
     * A new, empty sequence whose full blocks may be shared with sequences of the same {@code cacheNamespace}
     * (compared by identity: whatever besides the tokens determines the keys and values, the model instance for a
     * scheduler). With a null namespace, or in a pool that does not {@linkplain #prefixCachingSupported() support}
     * sharing, the same as {@link #newSequence()}.
     */
    public Sequence newSequence(Object cacheNamespace) {
        return new Sequence(this, prefixCaching ? cacheNamespace : null);
    }

    // --- prefix cache ------------------------------------------------------------------------------

    /**
     * Leading tokens of {@code tokens[0, length)} whose blocks are cached for {@code namespace}: a multiple of
     * {@link #BLOCK_TOKENS}, always below {@code length} (the last token is left to compute, it yields the logits).
     */
    public synchronized int cachedPrefixTokens(Object namespace, int[] tokens, int length) {
        if (!prefixCaching || namespace == null) return 0;
        return lookup(namespace, tokens, length, null) * BLOCK_TOKENS;
    }

    /**
     * Units admitting a new sequence of {@code namespace} with context {@code tokens[0, length)} through
     * {@link #reserveWithPrefix} takes from {@link #freeBlocks()}: {@link #blocksToHold(int, int)} less the cached
     * blocks it starts with that other sequences hold already (an evictable hit leaves the free count, so it costs).
     */
    public synchronized int blocksToAdmit(Object namespace, int[] tokens, int length, int chunkTokens) {
        int units = blocksToHold(length, chunkTokens);
        if (!prefixCaching || namespace == null) return units;
        int[] held = {0};
        lookup(namespace, tokens, length, id -> {
            if (refs[0][id] > 0) held[0]++;
        });
        return units - held[0] * groupUnits[0];
    }

    /**
     * {@link #reserve(Sequence, int, int)} for a fresh sequence with context {@code tokens[0, length)}, starting it
     * with the cached blocks its context begins with: they join its table (shared, never written), its length is set
     * past them and only the rest is reserved. Returns the tokens found in the cache (0 without a namespace); the
     * caller computes positions from there. All-or-nothing.
     */
    public synchronized int reserveWithPrefix(Sequence seq, int[] tokens, int length, int chunkTokens)
            throws KvCacheFullException {
        checkUsable(seq, length);
        if (seq.length != 0 || seq.size[0] != 0)
            throw new IllegalStateException("a prefix can only start a fresh sequence");
        if (seq.namespace != null) {
            int hits = lookup(seq.namespace, tokens, length, null);
            if (hits > 0) {
                ensureTableCapacity(seq, hits);
                BlockKey last = null;
                for (int i = 0; i < hits; i++) {
                    BlockKey key = probe(seq.namespace, last, tokens, i);
                    int id = cached.get(key);
                    if (refs[0][id]++ == 0) {
                        lruRemove(id);
                        freeUnits -= groupUnits[0];
                    }
                    seq.tables[0][i] = id;
                    last = keyOf[id];
                }
                seq.size[0] = hits;
                seq.length = hits * BLOCK_TOKENS;
                seq.shared = hits;
                seq.chain = last;
            }
        }
        try {
            reserve(seq, length, chunkTokens);
        } catch (KvCacheFullException e) {
            releaseFrom(seq, 0);
            seq.length = 0;
            seq.shared = 0;
            seq.chain = null;
            throw e;
        }
        return seq.length;
    }

    /**
     * Enters the full blocks of {@code seq} whose positions are all below {@code computed} (and written) into the
     * prefix cache, {@code tokens} being the sequence's tokens from position 0. A block whose content another block
     * already caches stays the sequence's own (freed, not kept, when it ends); the chain goes on through the cached
     * one. No effect for a sequence without a namespace.
     */
    public synchronized void cacheBlocks(Sequence seq, int[] tokens, int computed) {
        checkOwner(seq);
        if (seq.namespace == null || seq.freed) return;
        int full = Math.min(computed, seq.length) / BLOCK_TOKENS;
        for (int i = seq.shared; i < full; i++) {
            BlockKey key = probe(seq.namespace, seq.chain, tokens, i);
            Integer existing = cached.get(key);
            if (existing != null) {
                seq.chain = keyOf[existing];
            } else {
                int id = seq.tables[0][i];
                BlockKey stored = key.stored(nextSerial++);
                cached.put(stored, id);
                keyOf[id] = stored;
                seq.chain = stored;
            }
            seq.shared = i + 1;
        }
    }

    /**
     * Cached blocks {@code tokens[0, length)} starts with (at most {@code (length - 1) / 16}: a whole cached context
     * still computes its last block), each passed to {@code visit} when given.
     */
    private int lookup(Object namespace, int[] tokens, int length, java.util.function.IntConsumer visit) {
        int most = Math.max(0, length - 1) / BLOCK_TOKENS;
        BlockKey parent = null;
        int hits = 0;
        while (hits < most) {
            Integer id = cached.get(probe(namespace, parent, tokens, hits));
            if (id == null) break;
            if (visit != null) visit.accept(id);
            parent = keyOf[id];
            hits++;
        }
        return hits;
    }

    private static BlockKey probe(Object namespace, BlockKey parent, int[] tokens, int block) {
        return new BlockKey(
                namespace,
                parent == null ? 0 : parent.serial,
                parent == null ? 0 : parent.hash,
                tokens,
                block * BLOCK_TOKENS);
    }

    private void lruAppend(int id) {
        lruPrev[id] = lruTail;
        lruNext[id] = -1;
        if (lruTail >= 0) lruNext[lruTail] = id;
        else lruHead = id;
        lruTail = id;
        evictable++;
    }

    private void lruRemove(int id) {
        int p = lruPrev[id], n = lruNext[id];
        if (p >= 0) lruNext[p] = n;
        else lruHead = n;
        if (n >= 0) lruPrev[n] = p;
        else lruTail = p;
        evictable--;
    }

    /** Takes the least recently released cached block out of the cache, for reuse. */
    private int evict() {
        int id = lruHead;
        if (id < 0) throw new IllegalStateException("no free or evictable KV block although the count said so");
        lruRemove(id);
        cached.remove(keyOf[id]);
        keyOf[id] = null;
        evictions++;
        return id;
    }

    /**
     * Identity of a cached block: the namespace, the cache serial of the block before it (0 for the first) and its
     * 16 tokens, with a 64-bit hash chained over every token of the prefix. A probe reads the tokens in place.
     */
    private static final class BlockKey {
        final Object namespace;
        final long parentSerial, hash;
        final int[] tokens;
        final int offset;
        /** Unique per cached block of the pool (0 for a probe): what the next block's key names as its parent. */
        final long serial;

        BlockKey(Object namespace, long parentSerial, long parentHash, int[] tokens, int offset) {
            this(namespace, parentSerial, chainHash(parentHash, tokens, offset), tokens, offset, 0);
        }

        private BlockKey(Object namespace, long parentSerial, long hash, int[] tokens, int offset, long serial) {
            this.namespace = namespace;
            this.parentSerial = parentSerial;
            this.hash = hash;
            this.tokens = tokens;
            this.offset = offset;
            this.serial = serial;
        }

        /** A key of its own (tokens copied) for the table. */
        BlockKey stored(long serial) {
            return new BlockKey(
                    namespace,
                    parentSerial,
                    hash,
                    Arrays.copyOfRange(tokens, offset, offset + BLOCK_TOKENS),
                    0,
                    serial);
        }

        /** The parent's hash mixed with every token (a splitmix64 finalizer per token), so it names the prefix. */
        private static long chainHash(long parentHash, int[] tokens, int offset) {
            long h = parentHash ^ 0x9E3779B97F4A7C15L;
            for (int i = offset; i < offset + BLOCK_TOKENS; i++) {
                h = (h ^ tokens[i]) * 0xBF58476D1CE4E5B9L;
                h = (h ^ (h >>> 31)) * 0x94D049BB133111EBL;
            }
            return h ^ (h >>> 29);
        }

        @Override
        public int hashCode() {
            return (int) (hash ^ (hash >>> 32));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof BlockKey k
                    && k.hash == hash
                    && k.parentSerial == parentSerial
                    && k.namespace == namespace
                    && Arrays.equals(
                            tokens, offset, offset + BLOCK_TOKENS, k.tokens, k.offset, k.offset + BLOCK_TOKENS);
        }
    }

    /**
     * Checks the pool's bookkeeping (for tests): every block is exactly one of free, evictable or referenced; the
     * free count is what free and evictable blocks hold; the cache table and the keys agree.
     */
    synchronized void checkConsistency() {
        for (int g = 0; g < groupWindow.length; g++) {
            int n = blocks[g].length;
            boolean[] onStack = new boolean[n];
            for (int i = 0; i < freeTop[g]; i++) {
                int id = freeStack[g][i];
                if (onStack[id]) throw new IllegalStateException("block " + id + " is free twice");
                if (refs[g][id] != 0) throw new IllegalStateException("free block " + id + " has references");
                onStack[id] = true;
            }
            int unreferenced = 0;
            for (int id = 0; id < n; id++) {
                if (refs[g][id] < 0) throw new IllegalStateException("block " + id + " has negative references");
                if (refs[g][id] == 0) unreferenced++;
            }
            int lru = 0;
            if (g == 0 && prefixCaching) {
                for (int id = lruHead; id >= 0; id = lruNext[id], lru++) {
                    if (onStack[id]) throw new IllegalStateException("evictable block " + id + " is also free");
                    if (refs[0][id] != 0 || keyOf[id] == null)
                        throw new IllegalStateException("evictable block " + id + " is held or not cached");
                }
                if (lru != evictable) throw new IllegalStateException("evictable count " + evictable + " != " + lru);
                for (var e : cached.entrySet()) {
                    if (keyOf[e.getValue()] != e.getKey())
                        throw new IllegalStateException("cache table and block keys disagree at " + e.getValue());
                }
                int keyed = 0;
                for (BlockKey k : keyOf) if (k != null) keyed++;
                if (keyed != cached.size()) throw new IllegalStateException("stale block keys");
            }
            if (unreferenced != freeTop[g] + lru)
                throw new IllegalStateException("group " + g + ": " + unreferenced + " unreferenced blocks but "
                        + freeTop[g] + " free and " + lru + " evictable (leaked)");
            if (prefixCaching && freeUnits != unreferenced * groupUnits[0])
                throw new IllegalStateException("free count " + freeUnits + " but " + unreferenced + " blocks free");
        }
    }

    /**
     * Makes sure {@code seq} can take the chunk of positions {@code [length(), length)}: every group gets blocks up
     * to {@code length}. Sliding groups do not hold what the chunk will not read: their blocks below
     * {@code length() - W + 1} were released when the sequence reached its length. Blocks set aside by
     * {@link #reserve(Sequence, int, int)} are used before free ones. All-or-nothing: on failure no block was taken.
     * Also fails (with {@link IllegalArgumentException}) beyond the model's context length.
     */
    public synchronized void reserve(Sequence seq, int length) throws KvCacheFullException {
        checkUsable(seq, length);
        int newSize = blocksFor(length);
        int need = growthUnits(seq, newSize);
        if (need > freeUnits) throw new KvCacheFullException(need, freeUnits);
        ensureTableCapacity(seq, newSize);
        freeUnits -= need;
        for (int g = 0; g < groupWindow.length; g++) {
            if (seq.size[g] >= newSize) continue;
            seq.credit[g] = Math.max(0, seq.credit[g] - (newSize - seq.size[g]));
            for (int i = seq.size[g]; i < newSize; i++) seq.tables[g][i] = take(g);
            seq.size[g] = newSize;
        }
    }

    /**
     * Makes sure {@code seq} can advance to {@code length} in chunks of at most {@code chunkTokens} tokens, each
     * chunk {@linkplain #reserve(Sequence, int) reserved} just before it runs, without any of those reservations
     * failing: what a scheduler admits a prompt with. Full-attention groups get every block up to {@code length}
     * now; sliding groups get the blocks of the first chunk and keep, as the sequence's own, as many more as the
     * largest later chunk reads, reusing their released blocks for the next chunks. Costs
     * {@link #blocksToHold(int, int) blocksToHold(length, chunkTokens)} for a new sequence, instead of every block up
     * to {@code length} in every layer. All-or-nothing like {@link #reserve(Sequence, int)}.
     */
    public synchronized void reserve(Sequence seq, int length, int chunkTokens) throws KvCacheFullException {
        checkUsable(seq, length);
        if (chunkTokens < 1) throw new IllegalArgumentException("chunks must hold at least one token: " + chunkTokens);
        int groups = groupWindow.length;
        int[] newSize = new int[groups], newCredit = new int[groups];
        int need = 0, held = 0;
        int firstChunkEnd = blocksFor(seq.length + Math.min(chunkTokens, Math.max(0, length - seq.length)));
        for (int g = 0; g < groups; g++) {
            int owned = seq.size[g] - seq.released[g] + seq.credit[g];
            held += owned * groupUnits[g];
            if (groupWindow[g] == 0) {
                newSize[g] = Math.max(seq.size[g], blocksFor(length));
                newCredit[g] = seq.credit[g];
            } else {
                newSize[g] = Math.max(seq.size[g], firstChunkEnd);
                int assigned = newSize[g] - seq.released[g];
                newCredit[g] = Math.max(seq.credit[g], requiredBlocks(seq, g, length, chunkTokens) - assigned);
                newCredit[g] = Math.max(0, newCredit[g]);
            }
            need += (newSize[g] - seq.released[g] + newCredit[g]) * groupUnits[g];
        }
        need -= held;
        if (need > freeUnits) throw new KvCacheFullException(need, freeUnits);
        ensureTableCapacity(seq, Arrays.stream(newSize).max().orElseThrow());
        freeUnits -= need;
        for (int g = 0; g < groups; g++) {
            for (int i = seq.size[g]; i < newSize[g]; i++) seq.tables[g][i] = take(g);
            seq.size[g] = newSize[g];
            seq.credit[g] = newCredit[g];
        }
        seq.hold = Math.max(seq.hold, length);
        seq.holdChunk = chunkTokens;
    }

    /**
     * Blocks sliding group {@code g} of {@code seq} must be able to hold for the rest of an advance to {@code hold}
     * in chunks of at most {@code chunk}: every block from the first one the next token reads up to {@code hold}, but
     * never more than one chunk reads.
     */
    private int requiredBlocks(Sequence seq, int g, int hold, int chunk) {
        int first = Math.max(seq.released[g], Math.max(0, seq.length - groupWindow[g] + 1) / BLOCK_TOKENS);
        return Math.max(0, Math.min(blocksFor(hold) - first, chunkBlocks(g, chunk)));
    }

    private void checkUsable(Sequence seq, int length) {
        checkOwner(seq);
        if (seq.freed) throw new IllegalStateException("sequence was freed");
        if (length > config.contextLength()) {
            throw new IllegalArgumentException(
                    "sequence length " + length + " exceeds the context length " + config.contextLength());
        }
    }

    private static void ensureTableCapacity(Sequence seq, int entries) {
        if (seq.tables[0].length >= entries) return;
        int capacity = Math.max(entries, seq.tables[0].length * 2);
        for (int g = 0; g < seq.tables.length; g++) seq.tables[g] = Arrays.copyOf(seq.tables[g], capacity);
    }

    /**
     * Pops a free block of group {@code g} (its units already counted as used), allocating its memory if needed; when
     * none is free, evicts the least recently released cached block. The block's one reference is the caller's.
     */
    private int take(int g) {
        int id = freeTop[g] > 0 ? freeStack[g][--freeTop[g]] : evict();
        refs[g][id] = 1;
        if (external == null && blocks[g][id] == null) {
            if (allocatedUnits + groupUnits[g] > totalUnits) dropCachedArrays(totalUnits - groupUnits[g]);
            blocks[g][id] = new float[groupFloats[g]];
            allocatedUnits += groupUnits[g];
        }
        return id;
    }

    /**
     * Drops the arrays of free blocks, most recently freed first, until at most {@code limit} units are allocated.
     * Always reaches it: used units plus the block being taken fit in the budget.
     */
    private void dropCachedArrays(int limit) {
        for (int g = 0; g < groupWindow.length && allocatedUnits > limit; g++) {
            for (int i = freeTop[g] - 1; i >= 0 && allocatedUnits > limit; i--) {
                int id = freeStack[g][i];
                if (blocks[g][id] != null) {
                    blocks[g][id] = null;
                    allocatedUnits -= groupUnits[g];
                }
            }
        }
    }

    /**
     * Drops one reference to block {@code id} of group {@code g}; when it was the last, the block goes back on its
     * free stack, or, when cached, to the evictable end of the cache, and its units are free (the caller counts them).
     * Returns whether the block became free.
     */
    private boolean push(int g, int id) {
        if (--refs[g][id] > 0) return false;
        if (g == 0 && prefixCaching && keyOf[id] != null) lruAppend(id);
        else freeStack[g][freeTop[g]++] = id;
        return true;
    }

    /** Returns all blocks of {@code seq} to the pool; idempotent. The sequence cannot be used afterwards. */
    public synchronized void free(Sequence seq) {
        checkOwner(seq);
        releaseFrom(seq, 0);
        seq.length = 0;
        seq.freed = true;
    }

    /**
     * Forgets positions {@code >= length} and returns the blocks no longer needed (for rolling back a
     * speculative or aborted chunk, or recomputing after preemption), as well as any blocks set aside for later
     * chunks by {@link #reserve(Sequence, int, int)}. A sequence whose sliding layers already released the positions
     * a token at {@code length} would read cannot go back that far: {@link IllegalArgumentException} (recompute it
     * from a fresh sequence instead).
     */
    public synchronized void truncate(Sequence seq, int length) {
        checkOwner(seq);
        if (length < 0 || length > seq.length)
            throw new IllegalArgumentException("cannot truncate length " + seq.length + " to " + length);
        if (length < seq.earliestStart) {
            throw new IllegalArgumentException("cannot truncate length " + seq.length + " to " + length
                    + ": its sliding-window layers already released the positions it would read (the sequence can"
                    + " go back to " + seq.earliestStart + " at the earliest)");
        }
        seq.length = length;
        releaseFrom(seq, blocksFor(length));
        if (length < seq.shared * BLOCK_TOKENS) unshareFrom(seq, length);
    }

    /**
     * After {@code seq} was truncated to {@code length} inside its cached prefix: its block holding position
     * {@code length}, which the next forward pass overwrites, must be its own. Another sequence's too: copied into a
     * fresh block. Only cached: taken out of the cache. The sequence stops filling the cache (its chain is cut).
     */
    private void unshareFrom(Sequence seq, int length) {
        int at = length / BLOCK_TOKENS;
        if (length % BLOCK_TOKENS != 0) {
            int id = seq.tables[0][at];
            if (refs[0][id] > 1) {
                if (freeUnits < groupUnits[0])
                    throw new IllegalStateException("no free KV block to copy a shared block into");
                freeUnits -= groupUnits[0];
                int copy = take(0);
                if (external != null) external.copyBlock(0, id, copy);
                else System.arraycopy(blocks[0][id], 0, blocks[0][copy], 0, groupFloats[0]);
                refs[0][id]--;
                seq.tables[0][at] = copy;
            } else if (keyOf[id] != null) {
                cached.remove(keyOf[id]);
                keyOf[id] = null;
            }
        }
        seq.shared = at;
        seq.namespace = null;
        seq.chain = null;
    }

    /** Gives back every block at table index {@code >= keep} in every group, and every credit; ends any hold. */
    private void releaseFrom(Sequence seq, int keep) {
        for (int g = 0; g < groupWindow.length; g++) {
            // Last block first: a cached prefix's tail becomes evictable before its head, which more requests share.
            for (int i = seq.size[g] - 1; i >= Math.max(keep, seq.released[g]); i--) {
                if (push(g, seq.tables[g][i])) freeUnits += groupUnits[g];
                seq.tables[g][i] = -1;
            }
            seq.size[g] = Math.min(seq.size[g], keep);
            seq.released[g] = Math.min(seq.released[g], seq.size[g]);
            freeUnits += seq.credit[g] * groupUnits[g];
            seq.credit[g] = 0;
        }
        seq.hold = 0;
    }

    /**
     * After {@code seq} reached its length: each sliding group gives back its blocks whose positions are all below
     * {@code length - W + 1}, the first position a token at {@code length} or later reads. While a hold from
     * {@link #reserve(Sequence, int, int)} lasts, the sequence keeps as credit what its remaining chunks need.
     */
    private void releaseOutsideWindows(Sequence seq) {
        boolean holding = seq.hold > seq.length;
        for (int g = 0; g < groupWindow.length; g++) {
            int w = groupWindow[g], gone = 0;
            if (w != 0 && releaseOutsideWindow) {
                int keepFrom = Math.min(seq.size[g], Math.max(0, seq.length - w + 1) / BLOCK_TOKENS);
                // Never shared (prefix caching is off where windows release), so each block comes back.
                for (int i = seq.released[g]; i < keepFrom; i++, gone++) {
                    push(g, seq.tables[g][i]);
                    seq.tables[g][i] = -1;
                }
                if (gone > 0) {
                    seq.released[g] = keepFrom;
                    // A chunk starting at s reads from s - w + 1, which must still be held.
                    seq.earliestStart = Math.max(seq.earliestStart, keepFrom * BLOCK_TOKENS + w - 1);
                }
            }
            // Released blocks become credit as far as the rest of the hold needs them; the rest goes back.
            int pooled = seq.credit[g] + gone;
            int credit = 0;
            if (holding && w != 0) {
                int assigned = seq.size[g] - seq.released[g];
                credit = Math.min(pooled, Math.max(0, requiredBlocks(seq, g, seq.hold, seq.holdChunk) - assigned));
            }
            seq.credit[g] = credit;
            freeUnits += (pooled - credit) * groupUnits[g];
        }
        if (!holding) seq.hold = 0;
    }

    private void checkOwner(Sequence seq) {
        if (seq.pool != this) throw new IllegalArgumentException("sequence belongs to another KV cache pool");
    }

    // --- access for the forward pass --------------------------------------------------------------

    /** The layer group whose blocks hold {@code layer}. */
    int group(int layer) {
        return layerGroup[layer];
    }

    /**
     * Where this pool keeps what, for a cache of the same geometry elsewhere (a device's, {@link DeviceBackend}): per
     * layer its group and its index inside the group's blocks; per group the floats of one block and how many block ids
     * it has. A block of group {@code g} holds {@code [layer of the group][k=0|v=1][slot][kvDim]}, so the key
     * ({@code kOrV = 0}) or value of slot {@code s} of layer {@code l} in block {@code b} is element
     * {@link Layout#element}{@code (l, kOrV, b, s)} of the group's blocks laid end to end.
     */
    public record Layout(int kvDim, int[] layerGroup, int[] layerSlot, int[] groupBlockFloats, int[] groupBlockIds) {
        public int groups() {
            return groupBlockFloats.length;
        }

        /** Element offset of a key or value vector in group {@code layerGroup[layer]}'s blocks laid end to end. */
        public long element(int layer, int kOrV, int block, int slot) {
            return (long) block * groupBlockFloats[layerGroup[layer]]
                    + ((long) (layerSlot[layer] * 2 + kOrV) * BLOCK_TOKENS + slot) * kvDim;
        }
    }

    /**
     * Keeps the blocks' contents somewhere else, a device's KV cache of this pool's {@link #layout()}: the pool still
     * hands out, shares, evicts and releases block ids, but allocates no arrays, and the one copy it makes (a shared
     * block a sequence must write into, {@link #truncate}) is asked of the storage.
     */
    public interface BlockStorage {
        /** Copies block {@code from} of group {@code group} over block {@code to}. */
        void copyBlock(int group, int from, int to);
    }

    private volatile BlockStorage external;

    /**
     * From now on, keeps block contents in {@code storage} (see {@link BlockStorage}); the CPU forward pass can no
     * longer read this pool. Call before any block is reserved.
     *
     * @throws IllegalStateException when blocks were already handed out
     */
    public synchronized void storeBlocksIn(BlockStorage storage) {
        if (allocatedUnits != 0 || freeUnits != totalUnits)
            throw new IllegalStateException("the pool already holds blocks in host memory");
        this.external = java.util.Objects.requireNonNull(storage);
    }

    /** This pool's {@link Layout} (copies). */
    public Layout layout() {
        int[] ids = new int[blocks.length];
        for (int g = 0; g < ids.length; g++) ids[g] = blocks[g].length;
        return new Layout(kvDim, layerGroup.clone(), layerSlot.clone(), groupFloats.clone(), ids);
    }

    /** Group {@code group}'s blocks by id (a table entry indexes it). */
    float[][] blocks(int group) {
        return blocks[group];
    }

    /** Offset of the key (kOrV=0) or value (1) vector of slot {@code slot} of layer {@code layer} inside its block. */
    int offset(int layer, int kOrV, int slot) {
        return ((layerSlot[layer] * 2 + kOrV) * BLOCK_TOKENS + slot) * kvDim;
    }

    /**
     * The KV state of one sequence: its block tables and the number of positions written. Handles are created
     * by {@link KvCachePool#newSequence()} and must be {@linkplain KvCachePool#free freed} when the request
     * finishes or is cancelled.
     */
    public static final class Sequence {
        private final KvCachePool pool;
        /** Per layer group: block ids by position / 16; {@code -1} once released; entries from {@link #size} on unused. */
        private final int[][] tables;
        /** Per layer group: leading table entries released because no later token reads them. */
        private final int[] released;
        /** Per layer group: table entries reserved, positions {@code [0, size * 16)} may be written there. */
        private final int[] size;
        /** Per layer group: blocks owned but not yet in the table, for the next chunks of a hold. */
        private final int[] credit;
        /** Length the sequence may advance to on its credits (0: none), in chunks of at most {@code holdChunk}. */
        private int hold, holdChunk;

        private int length;
        /** Smallest start position a forward chunk may have: what it reads is still held. */
        private int earliestStart;

        private boolean freed;

        /** Whose prefix cache the sequence uses and fills (identity); null: none. */
        private Object namespace;
        /** Leading table entries that are cached (or duplicate cached content): never written again. */
        private int shared;
        /** Key of the cached block at entry {@code shared - 1}, the parent of the next one to cache; null at 0. */
        private BlockKey chain;

        private Sequence(KvCachePool pool, Object namespace) {
            this.pool = pool;
            this.namespace = namespace;
            int groups = pool.groupWindow.length;
            this.tables = new int[groups][4];
            this.released = new int[groups];
            this.size = new int[groups];
            this.credit = new int[groups];
        }

        /** Positions written so far by forward passes (the next token goes at this position). */
        public int length() {
            synchronized (pool) {
                return length;
            }
        }

        /** Positions the reserved blocks can hold: the next chunk may end there. */
        public int capacity() {
            synchronized (pool) {
                return capacityUnsafe();
            }
        }

        /** Accounting units currently owned, credits included (blocks, for a pool without sliding layers). */
        public int blockCount() {
            synchronized (pool) {
                int units = 0;
                for (int g = 0; g < size.length; g++) units += (size[g] - released[g] + credit[g]) * pool.groupUnits[g];
                return units;
            }
        }

        /** Blocks in {@code layer}'s group's table (released sliding blocks and credits not counted). */
        public int groupBlockCount(int layer) {
            synchronized (pool) {
                int g = pool.layerGroup[layer];
                return size[g] - released[g];
            }
        }

        /** The lowest position still held in {@code layer}'s group (0 until a sliding window released some). */
        public int firstHeldPosition(int layer) {
            synchronized (pool) {
                return released[pool.layerGroup[layer]] * BLOCK_TOKENS;
            }
        }

        public boolean isFreed() {
            synchronized (pool) {
                return freed;
            }
        }

        public KvCachePool pool() {
            return pool;
        }

        // Forward-pass internals: called with the tables stable (the scheduler does not reserve or free a
        // sequence while it is part of a running batch).

        /** Group {@code group}'s block table (index {@code position / BLOCK_TOKENS}). */
        int[] table(int group) {
            return tables[group];
        }

        int lengthUnsafe() {
            return length;
        }

        int capacityUnsafe() {
            int blocks = size[0];
            for (int g = 1; g < size.length; g++) blocks = Math.min(blocks, size[g]);
            return blocks * BLOCK_TOKENS;
        }

        int earliestStartUnsafe() {
            return earliestStart;
        }

        boolean freedUnsafe() {
            return freed;
        }

        /** Positions in blocks shared through the prefix cache: a forward pass must not start below. */
        int sharedEndUnsafe() {
            return shared * BLOCK_TOKENS;
        }

        /** Sets the written length (after a forward pass) and releases what sliding windows no longer read. */
        void setLength(int newLength) {
            synchronized (pool) {
                length = newLength;
                pool.releaseOutsideWindows(this);
            }
        }
    }
}
