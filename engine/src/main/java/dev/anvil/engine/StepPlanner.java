package dev.anvil.engine;

import dev.anvil.engine.Scheduler.Seq;
import java.util.ArrayList;
import java.util.List;

/**
 * Decides what a scheduler step runs (the {@link StepPlan}) and reserves the KV blocks for it; running the plan
 * (forward pass, sampling, events) is the {@link Scheduler}'s. Runs on the stepping thread only.
 *
 * <p>The decision, in order:
 * <ol>
 *   <li>a NORMAL sequence at the head of the queue that does not fit (batch full, or too few free blocks) preempts
 *       running LOW sequences, newest first, when that makes it fit;
 *   <li>running sequences, in running order: a decode token each, or the next prefill chunk within the step's
 *       prefill budget ({@link Scheduler.Config#prefillChunkTokens()}); when the pool runs dry the most recently
 *       admitted running sequence is preempted until the block is found (possibly the sequence itself);
 *   <li>admission, in the queue's order, while a sequence's whole pending context fits in the free blocks (in
 *       sliding-window layers: the blocks its largest prefill chunk reads; cached prefix blocks other sequences
 *       hold cost nothing, and the sequence prefills only what follows its cached prefix; a sequence whose prefix a
 *       running sequence is prefilling right now waits until those blocks are cached), the batch
 *       has a slot and prefill budget is left; not in a step that had to preempt a running sequence to grow
 *       another (step 2): the freed blocks are what the running sequences are about to grow into. Preempting LOW
 *       sequences for the NORMAL head (step 1) is what lets it in, in the same step.
 * </ol>
 */
final class StepPlanner {

    private final KvCachePool kv;
    private final Scheduler.Config config;
    private final SequenceQueue queue;
    /** The prefix cache's namespace for this scheduler's sequences; null when prefix caching is off. */
    private final Object cacheNamespace;

    /** Draft budgets of decoding sequences; disabled when the scheduler does not speculate. */
    private final Speculator speculator;

    StepPlanner(
            KvCachePool kv,
            Scheduler.Config config,
            SequenceQueue queue,
            Object cacheNamespace,
            Speculator speculator) {
        this.kv = kv;
        this.config = config;
        this.queue = queue;
        this.cacheNamespace = cacheNamespace;
        this.speculator = speculator;
    }

    boolean prefixCaching() {
        return cacheNamespace != null;
    }

    StepPlan plan() {
        int madeRoom = makeRoomForNormal();
        int preempted = 0; // while growing the running sequences: then nothing is admitted this step
        List<StepPlan.Chunk> chunks = new ArrayList<>();
        int prefillBudget = config.prefillChunkTokens();

        List<Seq> running = queue.running();
        for (int i = 0; i < running.size(); i++) {
            Seq s = running.get(i);
            int pending = s.tokenCount - s.computed;
            int take = pending == 1 ? 1 : Math.min(pending, prefillBudget);
            if (take == 0) continue;
            int[] victims = {0};
            boolean kept = reserveOrPreempt(s, s.computed + take, victims);
            preempted += victims[0];
            if (!kept) break; // s itself was the newest and got preempted
            if (pending > 1) prefillBudget -= take;
            chunks.add(new StepPlan.Chunk(s, s.computed, s.computed + take));
        }

        long recomputed = 0, queried = 0, hits = 0;
        while (preempted == 0 && queue.runningCount() < config.maxBatchSequences() && prefillBudget > 0) {
            Seq next = queue.pollAdmissible(
                    kv.freeBlocks(), s -> awaitsSharedPrefix(s) ? Integer.MAX_VALUE : blocksToAdmit(s));
            if (next == null) break;
            next.kvSeq = kv.newSequence(cacheNamespace);
            int cached;
            try {
                cached = kv.reserveWithPrefix(next.kvSeq, next.tokens, next.tokenCount, config.prefillChunkTokens());
            } catch (KvCacheFullException e) {
                throw new IllegalStateException(
                        "KV blocks vanished between check and reservation", e); // single stepping thread
            }
            int promptLength = next.request.promptTokens().length;
            if (next.cachedPromptTokens < 0) {
                next.cachedPromptTokens = Math.min(cached, promptLength);
                if (prefixCaching()) {
                    queried += promptLength;
                    hits += next.cachedPromptTokens;
                }
            }
            if (next.preemptions > 0) recomputed += next.tokenCount - Math.max(promptLength, cached);
            next.computed = cached;
            queue.addRunning(next);
            int take = Math.min(next.tokenCount - cached, prefillBudget);
            prefillBudget -= take;
            chunks.add(new StepPlan.Chunk(next, cached, cached + take));
        }
        if (speculator.enabled()) reserveDrafts(chunks);
        return new StepPlan(chunks, madeRoom + preempted, recomputed, queried, hits);
    }

    /**
     * Gives each decoding chunk its draft budget ({@link Speculator#budget}) where the KV room for it can be had
     * without preempting anyone: last, after every running sequence grew and the admissions took their blocks, so
     * speculation only ever uses blocks nothing else needs this step. A budget that does not fit shrinks to the room
     * left in the sequence's last block. Rejected drafts' positions are truncated after the step.
     */
    private void reserveDrafts(List<StepPlan.Chunk> chunks) {
        for (int i = 0; i < chunks.size(); i++) {
            StepPlan.Chunk c = chunks.get(i);
            Seq s = c.seq();
            if (c.to() - c.from() != 1 || c.to() != s.tokenCount) continue; // prefill: nothing to verify yet
            int k = speculator.budget(s);
            if (k == 0) continue;
            try {
                kv.reserve(s.kvSeq, c.to() + k);
            } catch (KvCacheFullException full) {
                k = Math.max(0, s.kvSeq.capacity() - c.to());
                if (k == 0) continue;
            }
            chunks.set(i, new StepPlan.Chunk(s, c.from(), c.to(), k));
        }
    }

    /**
     * Whether admitting {@code s} now would compute again prefix blocks that a running sequence is computing in its
     * prefill right now (requests arriving together with the same system prompt): then it waits, and whatever queues
     * behind it, until those blocks are computed and cached, at most the rest of that prefill. Only blocks complete
     * and computed are shared, never one being written, so this is what lets a burst share its prefix.
     */
    private boolean awaitsSharedPrefix(Seq s) {
        if (!prefixCaching()) return false;
        int cachedBlocks = -1;
        for (Seq r : queue.running()) {
            if (r.computed >= r.tokenCount) continue; // decoding: its prompt blocks are cached already
            int limit = Math.min(s.tokenCount - 1, r.tokenCount), common = 0;
            while (common < limit && s.tokens[common] == r.tokens[common]) common++;
            int shared = common / KvCachePool.BLOCK_TOKENS;
            if (shared * KvCachePool.BLOCK_TOKENS <= r.computed) continue; // all computed: cached, or never will be
            if (cachedBlocks < 0)
                cachedBlocks = kv.cachedPrefixTokens(cacheNamespace, s.tokens, s.tokenCount) / KvCachePool.BLOCK_TOKENS;
            if (shared > cachedBlocks) return true;
        }
        return false;
    }

    /**
     * Blocks a waiting sequence takes from the free ones when admitted: all of its pending context for full-attention
     * layers, what one prefill chunk reads for sliding-window layers (the pool keeps that many for its later chunks,
     * so its prefill never runs dry), less the cached prefix blocks that running sequences hold already.
     */
    private int blocksToAdmit(Seq s) {
        return kv.blocksToAdmit(cacheNamespace, s.tokens, s.tokenCount, config.prefillChunkTokens());
    }

    /**
     * When the first waiting NORMAL sequence does not fit and preempting running LOW sequences would make it fit,
     * preempts them, newest first, until it does. Returns how many were preempted.
     */
    private int makeRoomForNormal() {
        Seq head = queue.firstWaitingNormal();
        if (head == null) return 0;
        int needed = blocksToAdmit(head);
        int lowBlocks = 0;
        boolean anyLow = false;
        for (Seq s : queue.running()) {
            if (s.low()) {
                anyLow = true;
                lowBlocks += s.kvSeq == null ? 0 : s.kvSeq.blockCount();
            }
        }
        if (!anyLow) return 0;
        boolean slotShort = queue.runningCount() >= config.maxBatchSequences();
        boolean blocksShort = needed > kv.freeBlocks();
        if (!slotShort && !blocksShort) return 0;
        if (needed > kv.freeBlocks() + lowBlocks) return 0; // preempting every LOW sequence would not be enough
        int preempted = 0;
        Seq victim;
        while ((victim = queue.preemptionVictim()) != null
                && victim.low()
                && (queue.runningCount() >= config.maxBatchSequences() || needed > kv.freeBlocks())) {
            preempt(victim);
            preempted++;
        }
        return preempted;
    }

    /**
     * Reserves room for {@code length} positions of {@code s}, preempting the queue's victims while the pool is dry
     * (counted in {@code victims[0]}). Returns false when {@code s} itself had to be preempted.
     */
    private boolean reserveOrPreempt(Seq s, int length, int[] victims) {
        while (true) {
            try {
                kv.reserve(s.kvSeq, length);
                return true;
            } catch (KvCacheFullException full) {
                Seq victim = queue.preemptionVictim();
                preempt(victim);
                victims[0]++;
                if (victim == s) return false;
            }
        }
    }

    /** Frees a running sequence's blocks and sends it back to the front of the queue, to be recomputed. */
    private void preempt(Seq victim) {
        kv.free(victim.kvSeq);
        victim.kvSeq = null;
        victim.computed = 0;
        victim.preemptions++;
        queue.requeuePreempted(victim);
    }
}
