package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.SchedulerTest.Recorder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Automatic prefix caching: the pool's sharing, reference counts and LRU eviction on their own, and the scheduler
 * on the real stories260K model, where a request that reuses cached blocks must give exactly the output it gives
 * without them, and every block must come back, also under concurrent submissions, cancellations and preemption.
 */
class PrefixCacheTest {

    static final int B = KvCachePool.BLOCK_TOKENS;
    static final ModelConfig SHAPE = KvCachePoolTest.SHAPE;
    static final Object NS = new Object();

    static LlamaModel model;
    static Tokenizer tok;
    static long blockBytes;

    @BeforeAll
    static void load() throws Exception {
        Path path = Path.of("..", "models", "stories260K.gguf").toAbsolutePath().normalize();
        model = LlamaModel.load(path, ComputePool.defaultFactory(), 2);
        tok = model.tokenizer();
        blockBytes = KvCachePool.bytesPerBlock(model.config());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    static int[] tokens(int n, int seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 1 + r.nextInt(400);
        return t;
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** A sequence of {@code pool} holding {@code t} as if a forward pass had computed it, its full blocks cached. */
    static KvCachePool.Sequence computed(KvCachePool pool, Object ns, int[] t) throws KvCacheFullException {
        KvCachePool.Sequence s = pool.newSequence(ns);
        int cached = pool.reserveWithPrefix(s, t, t.length, 1 << 20);
        assertEquals(cached, s.length());
        s.setLength(t.length);
        pool.cacheBlocks(s, t, t.length);
        return s;
    }

    // ---- the pool ------------------------------------------------------------------------------------

    @Test
    void fullBlocksAreSharedByChainedContentAndALastTokenIsAlwaysLeftToCompute() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, KvCachePool.bytesPerBlock(SHAPE) * 20);
        assertTrue(pool.prefixCachingSupported());
        int[] prefix = tokens(3 * B, 1);
        KvCachePool.Sequence a = computed(pool, NS, concat(prefix, tokens(5, 2)));
        assertEquals(3, pool.cachedBlocks(), "only the full blocks are cached, not the partial fourth");
        assertEquals(16, pool.freeBlocks());

        assertEquals(3 * B, pool.cachedPrefixTokens(NS, concat(prefix, tokens(9, 3)), 3 * B + 9));
        assertEquals(0, pool.cachedPrefixTokens(new Object(), prefix, prefix.length + 1), "another namespace");
        // The whole context cached: the last block is still computed, for the logits of the last token.
        assertEquals(2 * B, pool.cachedPrefixTokens(NS, prefix, prefix.length));
        assertEquals(2 * B, pool.cachedPrefixTokens(NS, prefix, 2 * B + 1));
        assertEquals(B, pool.cachedPrefixTokens(NS, prefix, 2 * B));
        // Chained: the same second block after a different first block is a different block.
        int[] other = prefix.clone();
        other[3]++;
        assertEquals(0, pool.cachedPrefixTokens(NS, other, other.length));
        int[] secondDiffers = prefix.clone();
        secondDiffers[B + 7]++;
        assertEquals(B, pool.cachedPrefixTokens(NS, secondDiffers, secondDiffers.length));

        // Sharing: b holds a's three blocks, so only its own tail costs.
        int[] bTokens = concat(prefix, tokens(20, 4));
        assertEquals(2, pool.blocksToAdmit(NS, bTokens, bTokens.length, 1 << 20));
        int freeBefore = pool.freeBlocks();
        KvCachePool.Sequence b = pool.newSequence(NS);
        assertEquals(3 * B, pool.reserveWithPrefix(b, bTokens, bTokens.length, 1 << 20));
        assertEquals(freeBefore - 2, pool.freeBlocks());
        for (int i = 0; i < 3; i++) assertEquals(a.table(0)[i], b.table(0)[i], "block " + i + " is shared");
        assertTrue(a.table(0)[3] != b.table(0)[3], "the partially filled block is never shared");
        pool.checkConsistency();

        pool.free(a);
        assertEquals(freeBefore - 2 + 1, pool.freeBlocks(), "a's shared blocks stay with b; its own tail is free");
        pool.free(b);
        assertEquals(pool.totalBlocks(), pool.freeBlocks(), "every block is free or evictable");
        assertEquals(3, pool.evictableBlocks(), "the prefix stays cached after both ended");
        pool.checkConsistency();
        // An evictable hit costs: it leaves the free count when admitted.
        assertEquals(blocksFor(bTokens.length), pool.blocksToAdmit(NS, bTokens, bTokens.length, 1 << 20));
    }

    static int blocksFor(int n) {
        return KvCachePool.blocksFor(n);
    }

    @Test
    void freeBlocksGoFirstThenTheLeastRecentlyReleasedCachedOnesTailFirst() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, KvCachePool.bytesPerBlock(SHAPE) * 8);
        int[] p1 = tokens(3 * B, 10), p2 = tokens(3 * B, 11);
        pool.free(computed(pool, NS, concat(p1, new int[] {7})));
        pool.free(computed(pool, NS, concat(p2, new int[] {7})));
        assertEquals(6, pool.cachedBlocks());
        assertEquals(8, pool.freeBlocks());
        // Two blocks are plain free: a two-block sequence evicts nothing.
        KvCachePool.Sequence x = pool.newSequence();
        pool.reserve(x, 2 * B);
        assertEquals(6, pool.cachedBlocks());
        assertEquals(0, pool.evictions());
        // One more evicts p1's (released first) last block: its first two still hit.
        pool.reserve(x, 3 * B);
        assertEquals(1, pool.evictions());
        assertEquals(2 * B, pool.cachedPrefixTokens(NS, concat(p1, new int[] {7}), 3 * B + 1));
        assertEquals(3 * B, pool.cachedPrefixTokens(NS, concat(p2, new int[] {7}), 3 * B + 1));
        // A hit on p2 makes its blocks held: eviction now takes p1's rest, never a held block.
        KvCachePool.Sequence y = pool.newSequence(NS);
        assertEquals(3 * B, pool.reserveWithPrefix(y, concat(p2, new int[] {7}), 3 * B + 1, 1 << 20));
        assertEquals(1, pool.freeBlocks());
        pool.reserve(x, 4 * B);
        assertEquals(0, pool.cachedPrefixTokens(NS, concat(p1, new int[] {7}), 3 * B + 1));
        assertThrows(KvCacheFullException.class, () -> pool.reserve(x, 5 * B), "held cached blocks are not taken");
        pool.checkConsistency();
        pool.free(x);
        pool.free(y);
        assertEquals(8, pool.freeBlocks());
        pool.checkConsistency();
    }

    @Test
    void aSequenceNeverWritesIntoASharedBlock() throws Exception {
        KvCachePool pool = model.newKvCachePool(20 * blockBytes);
        int[] prompt = tokens(2 * B + 3, 20);
        KvCachePool.Sequence a = pool.newSequence(NS);
        pool.reserveWithPrefix(a, prompt, prompt.length, 1 << 20);
        model.forward(new Batch().add(a, 0, prompt));
        pool.cacheBlocks(a, prompt, prompt.length);
        KvCachePool.Sequence b = pool.newSequence(NS);
        assertEquals(2 * B, pool.reserveWithPrefix(b, prompt, prompt.length, 1 << 20));
        float[] shared = pool.blocks(0)[a.table(0)[1]].clone();
        // The forward pass refuses to overwrite the shared prefix ...
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> model.forward(new Batch().add(b, B + 4, 1, 2, 3)));
        assertTrue(e.getMessage().contains("prefix cache"), e.getMessage());
        // ... and truncating into it gives the sequence a copy of its own first.
        pool.truncate(b, B + 4);
        assertTrue(a.table(0)[1] != b.table(0)[1], "copied on write");
        assertArrayEquals(shared, pool.blocks(0)[b.table(0)[1]]);
        pool.reserve(b, B + 7);
        model.forward(new Batch().add(b, B + 4, 1, 2, 3));
        assertArrayEquals(shared, pool.blocks(0)[a.table(0)[1]], "a's block is untouched");
        assertEquals(a.table(0)[0], b.table(0)[0], "the block before stays shared");
        pool.free(a);
        pool.free(b);
        assertEquals(pool.totalBlocks(), pool.freeBlocks());
        pool.checkConsistency();
    }

    @Test
    void poolsWhoseSlidingLayersReleaseBlocksDoNotShare() throws Exception {
        int layers = model.config().layers();
        int[] windows = new int[layers];
        for (int l = 0; l < layers; l++) windows[l] = l % 3 == 2 ? 0 : 32;
        KvCachePool pool = model.newKvCachePool(30 * blockBytes, windows);
        assertFalse(pool.prefixCachingSupported());
        int[] prompt = tokens(3 * B + 1, 30);
        KvCachePool.Sequence a = pool.newSequence(NS);
        pool.reserveWithPrefix(a, prompt, prompt.length, 64);
        model.forward(new Batch().add(a, 0, prompt));
        pool.cacheBlocks(a, prompt, prompt.length);
        assertEquals(0, pool.cachedBlocks());
        assertEquals(0, pool.cachedPrefixTokens(NS, prompt, prompt.length));
        pool.free(a);
        assertEquals(pool.totalBlocks(), pool.freeBlocks());

        Scheduler s = new Scheduler(model, new Scheduler.Config(30 * blockBytes, 8, 64, 4), pool);
        assertFalse(s.prefixCaching(), "configured on, but the pool cannot share");
    }

    // ---- logits -------------------------------------------------------------------------------------

    @Test
    void theSuffixComputedAgainstCachedKeysGivesBitIdenticalLogits() throws Exception {
        KvCachePool pool = model.newKvCachePool(40 * blockBytes);
        int[] system = tok.encode(
                "Once upon a time, there was a little girl named Lily. She loved to play in the"
                        + " park with her friends. One day, she saw a big red ball under a tree.",
                true);
        assertTrue(system.length > 2 * B, "the prefix spans blocks: " + system.length);
        for (String user : new String[] {" Lily ran to the ball", " Tom said hello and", " The sun"}) {
            int[] prompt = concat(system, tok.encode(user, false));
            KvCachePool fresh = model.newKvCachePool(40 * blockBytes);
            KvCachePool.Sequence alone = fresh.newSequence();
            fresh.reserve(alone, prompt.length);
            float[] expected = model.forward(new Batch().add(alone, 0, prompt)).logits(0);

            KvCachePool.Sequence s = pool.newSequence(NS);
            int cached = pool.reserveWithPrefix(s, prompt, prompt.length, 1 << 20);
            int[] suffix = Arrays.copyOfRange(prompt, cached, prompt.length);
            float[] got = model.forward(new Batch().add(s, cached, suffix)).logits(0);
            pool.cacheBlocks(s, prompt, prompt.length);
            assertArrayEquals(expected, got, "cached " + cached + " of " + prompt.length);
            pool.free(s);
        }
        assertTrue(pool.cachedBlocks() >= system.length / B);
        // The same prompt again, wholly cached: its last block is recomputed and matches too.
        int[] prompt = Arrays.copyOf(system, (system.length / B) * B);
        KvCachePool.Sequence s = pool.newSequence(NS);
        int cached = pool.reserveWithPrefix(s, prompt, prompt.length, 1 << 20);
        assertEquals(prompt.length - B, cached);
        float[] got = model.forward(new Batch().add(s, cached, Arrays.copyOfRange(prompt, cached, prompt.length)))
                .logits(0);
        KvCachePool fresh = model.newKvCachePool(40 * blockBytes);
        KvCachePool.Sequence alone = fresh.newSequence();
        fresh.reserve(alone, prompt.length);
        assertArrayEquals(model.forward(new Batch().add(alone, 0, prompt)).logits(0), got);
    }

    // ---- the scheduler ------------------------------------------------------------------------------

    static final String SYSTEM = "Once upon a time, in a small town, there lived a kind old man who had a big garden."
            + " Every morning he watered the flowers and talked to the birds. The children of the town loved to visit"
            + " him, because he always had a story to tell.";
    static final String[] USERS = {
        " One day, a little boy",
        " The old man said",
        " Lily and Ben",
        " A bird sang",
        " It was raining and",
        " The dog barked",
        " Mom came to",
        " They all went"
    };

    static SequenceRequest chat(int user, int i) {
        SamplingParams p = i % 2 == 0
                ? SamplingParams.GREEDY
                : SamplingParams.DEFAULTS.withTemperature(0.8f).withSeed(300 + i);
        int[] prompt = concat(tok.encode(SYSTEM, true), tok.encode(USERS[user % USERS.length], false));
        return new SequenceRequest(prompt, p, 12 + 5 * (i % 4), List.of());
    }

    /** The outputs of {@code requests} run one at a time through a scheduler without prefix caching. */
    static List<int[]> withoutCache(List<SequenceRequest> requests) {
        Scheduler plain = new Scheduler(model, new Scheduler.Config(8 << 20, 64, 64, 8, false));
        assertFalse(plain.prefixCaching());
        List<int[]> out = new ArrayList<>();
        for (SequenceRequest r : requests) {
            Recorder rec = new Recorder();
            plain.submit(r, rec);
            SchedulerTest.stepUntilDone(plain, List.of(rec), 1000);
            assertEquals(0, rec.outcome.join().cachedTokens());
            out.add(rec.tokenArray());
        }
        assertEquals(0, plain.stats().prefixCachedBlocks());
        assertEquals(0, plain.stats().prefixCacheQueriedTokens());
        return out;
    }

    @Test
    void requestsSharingASystemPromptPrefillOnlyTheirOwnPartAndGenerateTheSame() throws Exception {
        List<SequenceRequest> requests = new ArrayList<>();
        for (int i = 0; i < 6; i++) requests.add(chat(i, i));
        List<int[]> expected = withoutCache(requests);

        Scheduler s = new Scheduler(model, new Scheduler.Config(8 << 20, 64, 256, 8));
        assertTrue(s.prefixCaching());
        int[] lookup = {-1, -1};
        Recorder first = new Recorder() {
            @Override
            public void onPrefixCacheLookup(int promptTokens, int cachedTokens) {
                lookup[0] = promptTokens;
                lookup[1] = cachedTokens;
            }
        };
        s.submit(requests.get(0), first);
        SchedulerTest.stepUntilDone(s, List.of(first), 1000);
        assertEquals(0, first.outcome.join().cachedTokens());
        assertArrayEquals(new int[] {requests.get(0).promptTokens().length, 0}, lookup);
        long stepsBefore = s.stats().steps();
        List<Recorder> recs = new ArrayList<>();
        for (SequenceRequest r : requests.subList(1, requests.size())) {
            Recorder rec = new Recorder();
            s.submit(r, rec);
            recs.add(rec);
        }
        SchedulerTest.stepUntilDone(s, recs, 1000);
        assertArrayEquals(expected.get(0), first.tokenArray());
        int systemBlocks = tok.encode(SYSTEM, true).length / B;
        for (int i = 0; i < recs.size(); i++) {
            SequenceOutcome o = recs.get(i).outcome.join();
            // The system prompt at least; more where two user messages begin alike across a block boundary (" The").
            assertTrue(o.cachedTokens() >= systemBlocks * B, "request " + (i + 1) + " reused the system prompt");
            assertArrayEquals(expected.get(i + 1), recs.get(i).tokenArray(), "request " + (i + 1));
        }
        Scheduler.Stats st = s.stats();
        int promptTokens =
                requests.stream().mapToInt(r -> r.promptTokens().length).sum();
        assertEquals(promptTokens, st.prefixCacheQueriedTokens());
        assertEquals(
                recs.stream().mapToLong(r -> r.outcome.join().cachedTokens()).sum(), st.prefixCacheHitTokens());
        assertTrue(st.prefixCacheHitTokens() >= 5L * systemBlocks * B);
        assertTrue(st.prefixCachedBlocks() >= systemBlocks);
        assertTrue(st.steps() - stepsBefore < 40);
        SchedulerTest.assertNoBlocksLeaked(s);
        s.kvCache().checkConsistency();
    }

    @Test
    void aBurstOfRequestsWithOneSystemPromptComputesItOnce() throws Exception {
        List<SequenceRequest> requests = new ArrayList<>();
        for (int i = 0; i < 6; i++) requests.add(chat(i, i));
        List<int[]> expected = withoutCache(requests);
        // Prefill chunks of 64 tokens: the first request takes two steps to compute the system prompt, and the
        // second step would have room to admit the next one before the prompt's last blocks are computed.
        Scheduler s = new Scheduler(model, new Scheduler.Config(8 << 20, 64, 64, 8));
        List<Recorder> recs = new ArrayList<>();
        for (SequenceRequest r : requests) {
            Recorder rec = new Recorder();
            s.submit(r, rec);
            recs.add(rec);
        }
        s.step();
        assertEquals(1, s.stats().running(), "the others wait for the system prompt's blocks");
        SchedulerTest.stepUntilDone(s, recs, 2000);
        int systemBlocks = tok.encode(SYSTEM, true).length / B;
        assertEquals(0, recs.get(0).outcome.join().cachedTokens());
        for (int i = 0; i < recs.size(); i++) {
            if (i > 0) assertTrue(recs.get(i).outcome.join().cachedTokens() >= systemBlocks * B, "request " + i);
            assertArrayEquals(expected.get(i), recs.get(i).tokenArray(), "request " + i);
        }
        SchedulerTest.assertNoBlocksLeaked(s);
        s.kvCache().checkConsistency();
    }

    @Test
    void closingTheSchedulerWhileSequencesShareBlocksReturnsEveryReference() throws Exception {
        Scheduler s = new Scheduler(model, new Scheduler.Config(8 << 20, 64, 256, 8));
        Recorder first = new Recorder();
        s.submit(chat(0, 0), first);
        s.step(); // computes and caches the system prompt
        List<Recorder> recs = new ArrayList<>();
        for (int i = 1; i < 5; i++) {
            Recorder rec = new Recorder();
            s.submit(chat(i, i), rec);
            recs.add(rec);
        }
        for (int i = 0; i < 3; i++) s.step();
        assertEquals(5, s.stats().running());
        KvCachePool kv = s.kvCache();
        assertTrue(kv.cachedBlocks() > kv.evictableBlocks(), "cached blocks are held by running sequences");
        s.close(); // no loop runs: closing fails them here, as unloading a version does
        for (Recorder r : recs) assertTrue(r.outcome.isCompletedExceptionally());
        kv.checkConsistency();
        assertEquals(kv.totalBlocks(), kv.freeBlocks());
        assertEquals(kv.cachedBlocks(), kv.evictableBlocks(), "nothing holds a cached block any more");
    }

    @Test
    void concurrentOverlappingRequestsWithCancellationsLeakNothingAndMatchTheUncachedOutput() throws Exception {
        List<SequenceRequest> requests = new ArrayList<>();
        for (int i = 0; i < 48; i++) requests.add(chat(i * 5 % 7, i));
        List<int[]> expected = withoutCache(requests.subList(0, 16));

        // A budget for about three of these sequences at once: admissions wait, running ones are preempted, and
        // cached blocks are evicted while others are shared.
        Scheduler s = new Scheduler(model, new Scheduler.Config(20 * blockBytes, 256, 32, 6));
        Thread loop = new Thread(s, "scheduler-loop");
        loop.start();
        ExecutorService clients = Executors.newFixedThreadPool(8);
        ConcurrentHashMap<Integer, Recorder> recs = new ConcurrentHashMap<>();
        ConcurrentHashMap<Integer, Boolean> cancelled = new ConcurrentHashMap<>();
        List<Future<?>> submitted = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            int n = i;
            submitted.add(clients.submit(() -> {
                Random r = new Random(n);
                Recorder rec = new Recorder();
                recs.put(n, rec);
                Scheduler.SequenceHandle h = s.submit(requests.get(n), rec);
                // The first 16 run to the end (compared below), a third of the others is cancelled at random.
                if (n >= 16 && r.nextInt(3) == 0) {
                    try {
                        Thread.sleep(r.nextInt(40));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    cancelled.put(n, true);
                    h.cancel();
                }
                return null;
            }));
        }
        for (Future<?> f : submitted) f.get(60, TimeUnit.SECONDS);
        for (Recorder rec : recs.values()) rec.outcome.get(120, TimeUnit.SECONDS);
        clients.shutdown();
        s.close();
        assertTrue(s.awaitLoopExit(60, TimeUnit.SECONDS));
        loop.join(60_000);

        for (int i = 0; i < 16; i++) {
            Recorder rec = recs.get(i);
            assertNull(rec.error);
            assertArrayEquals(expected.get(i), rec.tokenArray(), "request " + i);
        }
        Scheduler.Stats st = s.stats();
        assertTrue(st.prefixCacheHitTokens() > 0, "prefixes were shared");
        assertTrue(st.preemptions() > 0, "the budget forced preemptions");
        assertTrue(s.kvCache().evictions() > 0, "the budget forced evictions");
        assertFalse(cancelled.isEmpty());
        KvCachePool kv = s.kvCache();
        kv.checkConsistency();
        assertEquals(kv.totalBlocks(), kv.freeBlocks(), "every block is free or evictable");
        assertEquals(kv.cachedBlocks(), kv.evictableBlocks(), "no cached block is still held");
        assertEquals(0, st.kvBlocksUsed());
    }
}
