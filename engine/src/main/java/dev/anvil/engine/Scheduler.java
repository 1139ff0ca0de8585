package dev.anvil.engine;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous (iteration-level) batching over one {@link LlamaModel} and a paged {@link KvCachePool}.
 *
 * <p>Every {@link #step()} runs exactly one {@link LlamaModel#forward} pass holding the next decode token of
 * every running sequence plus prefill chunks of sequences whose prompt is not yet in the cache. Sequences
 * that finish leave at once and waiting ones join in the same step, so a long generation never holds back a
 * short one and new requests do not wait for the batch to drain. Prefill of long prompts is split into chunks
 * of at most {@link Config#prefillChunkTokens()} tokens per step, so the running streams keep producing a
 * token every step while a long prompt is being read.
 *
 * <p>KV memory: blocks are reserved as a sequence grows. A waiting sequence is admitted only when the blocks
 * for its whole prompt are free (first come, first served: the head of the queue is never overtaken). When the
 * pool runs dry while running sequences need one more block, the most recently admitted running sequence is
 * preempted: its blocks are freed and it goes back to the front of the queue; when readmitted, its prompt and
 * the tokens it already generated are recomputed in prefill chunks and generation continues where it stopped
 * (its sampler state is kept, and the kernels are batch-invariant, so the output is the same as without
 * preemption). Blocks are returned on finish, cancellation and error. Block counts always come from the pool
 * ({@link KvCachePool#blocksToHold}): with sliding-window layers a block is a smaller unit, a prompt is admitted with
 * the blocks of its full-attention layers plus what one prefill chunk reads in the sliding ones, and a running
 * sequence gives back the blocks its windows left behind, so long prompts and many long sequences fit where they
 * would not otherwise.
 *
 * <p>Prefix caching ({@link Config#prefixCaching()}, on by default; see {@link KvCachePool}): every full block a
 * sequence has computed is entered into the pool's prefix cache after the step that completed it, and a sequence
 * is admitted with the cached blocks its context starts with, prefilling only the rest (at least its last token, for
 * the logits). The kernels are batch- and chunk-invariant, so the suffix computed against cached keys and values
 * gives the same logits, bit for bit, as the whole prompt computed afresh. Admission counts only what the
 * sequence adds to the pool. A preempted sequence finds its own released blocks there when readmitted, unless they
 * were evicted meanwhile. The cache is keyed by this scheduler's model instance.
 *
 * <p>Speculative decoding ({@link Config#speculation()}, off by default; see {@link Speculator}): a decoding sequence may
 * feed draft tokens (prompt lookup, or a draft model given to the constructor) after its pending token, in the same
 * forward pass as everything else; the target's logits at every drafted position decide which drafts are kept, so a
 * step can emit several tokens of one sequence (one {@link SequenceListener#onToken} each). The KV positions of
 * rejected drafts are truncated in the same step, so only kept tokens ever reach a full block and the prefix cache;
 * the room for drafts is reserved after everything else, so speculation never preempts or delays admission.
 * Not with sliding-window pools ({@link KvCachePool#prefixCachingSupported()} false): their released blocks
 * cannot be rolled back.
 *
 * <p>Priorities: a {@link SequenceRequest.Priority#LOW} sequence (a shadow copy nobody waits for) is admitted only
 * when no NORMAL sequence is waiting, and its waiting count never makes NORMAL submissions overloaded. The running
 * list keeps every NORMAL sequence before every LOW one, so "the most recently admitted" victim of preemption is
 * always a LOW sequence while there is one; and a NORMAL sequence at the head of the queue that does not fit
 * preempts running LOW sequences to get in.
 *
 * <p>Threading: {@link #submit}, {@link SequenceHandle#cancel()}, {@link #stats()} and {@link #close()} may be
 * called from any thread. {@link #step()} must be called by one thread at a time, normally the one running
 * {@link #run()}, the loop a server hands to a long-running task. Listeners are called on that thread.
 */
public final class Scheduler implements Runnable, AutoCloseable {

    private static final System.Logger LOG = System.getLogger(Scheduler.class.getName());

    /**
     * Tunables.
     *
     * @param kvCacheBytes       byte budget of the KV cache pool
     * @param maxWaiting         most sequences waiting for admission; more are rejected as overloaded
     * @param prefillChunkTokens most prompt (prefill/recompute) tokens per step, over all sequences; decode
     *                           tokens of running sequences come on top
     * @param maxBatchSequences  most sequences running at once
     * @param prefixCaching      share the KV blocks of common prompt prefixes and keep them after a sequence ends
     *                           (where the pool supports it: not with sliding-window layers that release blocks)
     * @param speculation        speculative decoding, {@link Speculation#NONE} for none
     */
    public record Config(
            long kvCacheBytes,
            int maxWaiting,
            int prefillChunkTokens,
            int maxBatchSequences,
            boolean prefixCaching,
            Speculation speculation) {
        /** With prefix caching on. */
        public Config(long kvCacheBytes, int maxWaiting, int prefillChunkTokens, int maxBatchSequences) {
            this(kvCacheBytes, maxWaiting, prefillChunkTokens, maxBatchSequences, true);
        }

        /** Without speculative decoding. */
        public Config(
                long kvCacheBytes,
                int maxWaiting,
                int prefillChunkTokens,
                int maxBatchSequences,
                boolean prefixCaching) {
            this(kvCacheBytes, maxWaiting, prefillChunkTokens, maxBatchSequences, prefixCaching, Speculation.NONE);
        }

        /** The same with {@code speculation}. */
        public Config withSpeculation(Speculation speculation) {
            return new Config(
                    kvCacheBytes, maxWaiting, prefillChunkTokens, maxBatchSequences, prefixCaching, speculation);
        }

        public Config {
            if (speculation == null) speculation = Speculation.NONE;
            if (kvCacheBytes <= 0)
                throw new IllegalArgumentException("KV cache budget must be > 0 bytes, was " + kvCacheBytes);
            if (maxWaiting < 0) throw new IllegalArgumentException("max waiting must be >= 0, was " + maxWaiting);
            if (prefillChunkTokens < 1)
                throw new IllegalArgumentException("prefill chunk must be >= 1 token, was " + prefillChunkTokens);
            if (maxBatchSequences < 1)
                throw new IllegalArgumentException("max batch sequences must be >= 1, was " + maxBatchSequences);
        }
    }

    /**
     * A snapshot for metrics.
     *
     * @param waiting          sequences queued for admission (preempted ones included)
     * @param running          sequences in the running batch
     * @param kvBlocksUsed     KV blocks owned by sequences
     * @param kvBlocksFree     KV blocks free
     * @param preemptions      sequences preempted since start
     * @param promptTokens     prompt tokens submitted since start
     * @param generatedTokens  tokens generated since start
     * @param recomputedTokens tokens prefilled again after preemption since start
     * @param steps            forward passes run since start
     * @param prefixCacheQueriedTokens prompt tokens looked up in the prefix cache (each sequence once, at its first
     *                                 admission)
     * @param prefixCacheHitTokens     of those, tokens found cached and not computed
     * @param prefixCachedBlocks       KV blocks holding a cached prefix now (in use or evictable)
     * @param draftedTokens    speculative draft tokens verified since start
     * @param acceptedTokens   of those, drafts the target kept (emitted as generated tokens)
     */
    public record Stats(
            int waiting,
            int running,
            int kvBlocksUsed,
            int kvBlocksFree,
            long preemptions,
            long promptTokens,
            long generatedTokens,
            long recomputedTokens,
            long steps,
            long prefixCacheQueriedTokens,
            long prefixCacheHitTokens,
            int prefixCachedBlocks,
            long draftedTokens,
            long acceptedTokens) {
        public int kvBlocksTotal() {
            return kvBlocksUsed + kvBlocksFree;
        }

        /** Fraction of drafts kept (NaN before any was verified). */
        public double acceptanceRate() {
            return draftedTokens == 0 ? Double.NaN : (double) acceptedTokens / draftedTokens;
        }
    }

    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final KvCachePool kv;
    private final Config config;

    // Guarded by lock: the waiting queue (shared with submitters), closed flag, loop state.
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition workAvailable = lock.newCondition();
    private final Condition loopExited = lock.newCondition();
    private boolean closed;
    private boolean draining;
    private long drainDeadlineNanos;
    private boolean loopRunning;
    private boolean wakeUp;

    /** Waiting (shared, under {@link #lock}) and running (stepping thread) sequences, and their priority rules. */
    private final SequenceQueue queue = new SequenceQueue(lock);
    /** Decides what each step runs; {@link #step()} runs it. */
    private final StepPlanner planner;
    /** Drafts and verifies speculative tokens (disabled without speculation). */
    private final Speculator speculator;
    /** The running count, for {@link #stats()} and {@link #isIdle()} from other threads. */
    private volatile int runningCount;

    private final AtomicLong preemptions = new AtomicLong();
    private final AtomicLong promptTokens = new AtomicLong();
    private final AtomicLong generatedTokens = new AtomicLong();
    private final AtomicLong recomputedTokens = new AtomicLong();
    private final AtomicLong steps = new AtomicLong();
    private final AtomicLong prefixQueried = new AtomicLong();
    private final AtomicLong prefixHits = new AtomicLong();
    private final AtomicLong nextId = new AtomicLong();
    /** Exponential moving average of a finished sequence's time in the scheduler, for Retry-After hints. */
    private volatile double averageSequenceSeconds = 1.0;

    public Scheduler(LlamaModel model, Config config) {
        this(model, config, model.newKvCachePool(config.kvCacheBytes()), null);
    }

    /**
     * With {@code draft} as the draft model of {@link Speculation.Method#DRAFT} speculation (may be null for the other
     * methods). The scheduler does not close it.
     *
     * @throws UnsupportedModelException when the draft's vocabulary is not the target's
     */
    public Scheduler(LlamaModel model, Config config, LlamaModel draft) {
        this(model, config, model.newKvCachePool(config.kvCacheBytes()), draft);
    }

    /**
     * Over a KV pool built for {@code model} with windows of its own ({@link LlamaModel#newKvCachePool(long, int[])}),
     * whose budget {@code config.kvCacheBytes()} should be.
     */
    Scheduler(LlamaModel model, Config config, KvCachePool kv) {
        this(model, config, kv, null);
    }

    /**
     * Over a KV pool built for {@code model} (so that a device backend can be sized for the same pool before the
     * scheduler starts, see {@link Accelerator#open}), with an optional draft model.
     */
    public Scheduler(LlamaModel model, Config config, KvCachePool kv, LlamaModel draft) {
        if (!kv.config().equals(model.config())) throw new IllegalArgumentException("KV cache built for another model");
        this.model = model;
        this.tokenizer = model.tokenizer();
        this.config = config;
        this.kv = kv;
        // The model instance is the cache namespace: keys and values depend on it and on the tokens only.
        Object namespace = config.prefixCaching() && kv.prefixCachingSupported() ? model : null;
        // Rolling rejected drafts back needs a pool that never released a block a later token reads.
        Speculation speculation = kv.prefixCachingSupported() ? config.speculation() : Speculation.NONE;
        this.speculator = new Speculator(speculation, model, draft, config.kvCacheBytes(), config.prefillChunkTokens());
        this.planner = new StepPlanner(kv, config, queue, namespace, speculator);
    }

    /** The draft model's KV cache (null unless speculating with a draft model). */
    KvCachePool draftKvCache() {
        return speculator.draftKvCache();
    }

    /** The speculation in effect: the configured one, or NONE where the pool cannot roll drafts back. */
    public Speculation speculation() {
        return speculator.config();
    }

    /** Whether this scheduler shares prefix blocks: configured on, and supported by its pool. */
    public boolean prefixCaching() {
        return planner.prefixCaching();
    }

    public Config config() {
        return config;
    }

    public KvCachePool kvCache() {
        return kv;
    }

    // ------------------------------------------------------------------------------------------------
    // Submission and cancellation (any thread)

    /**
     * Queues a sequence; its events go to {@code listener} (on the scheduler thread).
     *
     * @throws SubmissionRejectedException CONTEXT_LENGTH when the prompt or prompt + max tokens exceeds the
     *                                      context, INVALID for a token outside the vocabulary or a sequence
     *                                      larger than the whole KV cache, OVERLOADED when the queue is full,
     *                                      CLOSED after {@link #close()}
     */
    public SequenceHandle submit(SequenceRequest request, SequenceListener listener) {
        if (listener == null) throw new IllegalArgumentException("listener is null");
        int[] prompt = request.promptTokens();
        int context = model.config().contextLength();
        if (prompt.length > context) {
            throw new SubmissionRejectedException(
                    SubmissionRejectedException.Reason.CONTEXT_LENGTH,
                    "the prompt has " + prompt.length + " tokens, more than the model's context length of " + context,
                    0);
        }
        if ((long) prompt.length + request.maxTokens() > context) {
            throw new SubmissionRejectedException(
                    SubmissionRejectedException.Reason.CONTEXT_LENGTH,
                    "the prompt (" + prompt.length + " tokens) plus max tokens (" + request.maxTokens()
                            + ") exceeds the model's context length of " + context,
                    0);
        }
        int vocab = model.config().vocabSize();
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocab) {
                throw new SubmissionRejectedException(
                        SubmissionRejectedException.Reason.INVALID,
                        "prompt token " + i + " has id " + prompt[i] + ", outside the vocabulary [0, " + vocab + ")",
                        0);
            }
        }
        // The last generated token is never fed back, so the cache holds at most prompt + maxTokens - 1 positions; a
        // sequence readmitted after preemption reserves for all of them at once.
        int blocksNeeded = kv.blocksToHold(prompt.length + request.maxTokens() - 1, config.prefillChunkTokens());
        if (blocksNeeded > kv.totalBlocks()) {
            throw new SubmissionRejectedException(
                    SubmissionRejectedException.Reason.INVALID,
                    "the prompt plus max tokens needs " + blocksNeeded + " KV cache blocks but the cache has only "
                            + kv.totalBlocks() + "; lower max tokens or raise the KV cache budget",
                    0);
        }
        Generation generation;
        try {
            generation = new Generation(
                    tokenizer, prompt, request.sampling(), request.maxTokens(), request.stop(), request.grammar());
        } catch (IllegalArgumentException e) {
            throw new SubmissionRejectedException(SubmissionRejectedException.Reason.INVALID, e.getMessage(), 0);
        }
        Seq seq = new Seq(nextId.incrementAndGet(), request, generation, listener, this);
        lock.lock();
        try {
            if (closed || draining) {
                throw new SubmissionRejectedException(
                        SubmissionRejectedException.Reason.CLOSED,
                        draining ? "the model version is being replaced" : "the scheduler is closed",
                        0);
            }
            // LOW work never counts against NORMAL submissions; LOW submissions count everything ahead of them.
            boolean low = request.priority() == SequenceRequest.Priority.LOW;
            long fresh = queue.waitingAhead(low);
            if (fresh >= config.maxWaiting()) {
                throw new SubmissionRejectedException(
                        SubmissionRejectedException.Reason.OVERLOADED,
                        "too many requests are waiting (" + fresh + ", limit " + config.maxWaiting() + ")",
                        retryAfterHint(fresh));
            }
            queue.enqueue(seq);
            promptTokens.addAndGet(prompt.length);
            signal();
        } finally {
            lock.unlock();
        }
        return seq.handle;
    }

    /** Seconds until a queue of {@code queued} sequences has probably drained into the batch (1 to 60). */
    private int retryAfterHint(long queued) {
        double batches = Math.ceil((queued + 1) / (double) config.maxBatchSequences());
        return (int) Math.max(1, Math.min(60, Math.ceil(batches * averageSequenceSeconds)));
    }

    private void requestCancel(Seq seq) {
        lock.lock();
        try {
            seq.cancelRequested = true;
            signal();
        } finally {
            lock.unlock();
        }
    }

    private void signal() {
        wakeUp = true;
        workAvailable.signalAll();
    }

    public Stats stats() {
        int w = queue.waitingCount();
        return new Stats(
                w,
                runningCount,
                kv.usedBlocks(),
                kv.freeBlocks(),
                preemptions.get(),
                promptTokens.get(),
                generatedTokens.get(),
                recomputedTokens.get(),
                steps.get(),
                prefixQueried.get(),
                prefixHits.get(),
                kv.cachedBlocks(),
                speculator.draftedTokens(),
                speculator.acceptedTokens());
    }

    /** True when no sequence is waiting or running. */
    public boolean isIdle() {
        lock.lock();
        try {
            return queue.waitingCount() == 0 && runningCount == 0;
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------------------------------------
    // The loop

    /**
     * Steps until {@link #close()}, sleeping while there is nothing to do; then fails every sequence still
     * waiting or running (their listeners get {@link SequenceListener#onError}) and returns.
     */
    @Override
    public void run() {
        lock.lock();
        try {
            if (closed) return;
            if (loopRunning) throw new IllegalStateException("the scheduler loop is already running");
            loopRunning = true;
        } finally {
            lock.unlock();
        }
        try {
            while (true) {
                lock.lock();
                try {
                    if (closed) break;
                    if (draining
                            && ((queue.waitingCount() == 0 && runningCount == 0)
                                    || System.nanoTime() - drainDeadlineNanos > 0)) {
                        closed = true;
                        break;
                    }
                    wakeUp = false;
                } finally {
                    lock.unlock();
                }
                boolean worked;
                try {
                    worked = step();
                } catch (RuntimeException | Error e) {
                    // step() already failed the sequences of the batch; the loop itself must survive.
                    LOG.log(System.Logger.Level.ERROR, "scheduler step failed", e);
                    worked = true;
                }
                if (!worked) {
                    lock.lock();
                    try {
                        while (!wakeUp && !closed) workAvailable.await(1, TimeUnit.SECONDS);
                    } finally {
                        lock.unlock();
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            abortAll(new IllegalStateException("the model is being unloaded"));
            lock.lock();
            try {
                loopRunning = false;
                loopExited.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Stops accepting sequences and ends {@link #run()}, which fails whatever is still queued or running.
     * When no loop is running, that cleanup happens here. Does not wait; see {@link #awaitLoopExit}.
     */
    @Override
    public void close() {
        boolean cleanUpHere;
        lock.lock();
        try {
            closed = true;
            signal();
            cleanUpHere = !loopRunning;
        } finally {
            lock.unlock();
        }
        if (cleanUpHere) abortAll(new IllegalStateException("the scheduler was closed"));
    }

    /**
     * Stops accepting sequences but lets the queued and running ones finish; {@link #run()} returns once none is
     * left, or at {@code timeout} after which whatever remains fails. For replacing a model without dropping
     * in-flight requests.
     */
    public void drain(long timeout, TimeUnit unit) {
        boolean cleanUpHere;
        lock.lock();
        try {
            draining = true;
            drainDeadlineNanos = System.nanoTime() + unit.toNanos(timeout);
            signal();
            cleanUpHere = !loopRunning && !closed;
            if (cleanUpHere) closed = true;
        } finally {
            lock.unlock();
        }
        if (cleanUpHere)
            abortAll(new IllegalStateException("the scheduler was closed while draining without a running loop"));
    }

    /** Waits until a running {@link #run()} has returned after {@link #close()}; true if it has (or never ran). */
    public boolean awaitLoopExit(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        lock.lock();
        try {
            while (loopRunning) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                loopExited.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    private void abortAll(Throwable why) {
        List<Seq> victims = queue.removeAll();
        runningCount = 0;
        for (Seq s : victims) fail(s, why);
    }

    /**
     * One iteration: drop cancelled sequences, have the {@link StepPlanner} decide what runs (growth, preemption,
     * admission, with their KV blocks reserved), run that plan's one forward pass, sample, and retire finished
     * sequences. Returns false when there was nothing to run.
     */
    public boolean step() {
        retireCancelled();
        StepPlan plan = planner.plan();
        preemptions.addAndGet(plan.preemptions());
        recomputedTokens.addAndGet(plan.recomputedTokens());
        prefixQueried.addAndGet(plan.prefixQueriedTokens());
        prefixHits.addAndGet(plan.prefixHitTokens());
        runningCount = queue.runningCount();
        if (plan.isEmpty()) return false;

        for (StepPlan.Chunk c : plan.chunks()) {
            Seq s = c.seq();
            if (s.lookupReported) continue;
            s.lookupReported = true;
            try {
                s.listener.onAdmitted();
                if (planner.prefixCaching()) {
                    s.listener.onPrefixCacheLookup(s.request.promptTokens().length, s.cachedPromptTokens);
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "sequence listener failed when its sequence was admitted", e);
            }
        }

        // Drafts, then the forward pass over every chunk of the plan, drafts after their sequence's pending token.
        List<StepPlan.Chunk> speculating = new java.util.ArrayList<>();
        for (StepPlan.Chunk c : plan.chunks()) if (c.drafts() > 0) speculating.add(c);
        Batch batch = new Batch();
        ForwardResult result;
        try {
            if (speculator.enabled()) {
                // A draft model prefills what the target prefills (not a decode chunk: one token, the last one).
                List<Seq> prefilling = new java.util.ArrayList<>();
                int[] upTo = new int[plan.chunks().size()];
                for (StepPlan.Chunk c : plan.chunks()) {
                    if (c.to() - c.from() == 1 && c.to() == c.seq().tokenCount) continue;
                    upTo[prefilling.size()] = c.to();
                    prefilling.add(c.seq());
                }
                speculator.followPrefill(prefilling, upTo);
            }
            if (!speculating.isEmpty()) {
                int[] budgets = new int[speculating.size()];
                for (int i = 0; i < budgets.length; i++)
                    budgets[i] = speculating.get(i).drafts();
                speculator.draft(speculating.stream().map(StepPlan.Chunk::seq).toList(), budgets);
            }
            for (StepPlan.Chunk c : plan.chunks()) {
                Seq s = c.seq();
                int[] drafts = c.drafts() > 0 ? s.spec.drafts : null;
                if (drafts == null || drafts.length == 0) {
                    batch.add(s.kvSeq, c.from(), Arrays.copyOfRange(s.tokens, c.from(), c.to()));
                } else {
                    int[] fed = Arrays.copyOfRange(s.tokens, c.from(), c.to() + drafts.length);
                    System.arraycopy(drafts, 0, fed, c.to() - c.from(), drafts.length);
                    batch.add(new Batch.Entry(s.kvSeq, c.from(), fed, true));
                }
            }
            result = model.forward(batch);
        } catch (RuntimeException | Error e) {
            for (StepPlan.Chunk c : plan.chunks()) {
                queue.removeRunning(c.seq());
                fail(c.seq(), e);
            }
            runningCount = queue.runningCount();
            throw e;
        }
        steps.incrementAndGet();

        // Sampling for the sequences whose whole context is now in the cache. Each sequence's sampler depends only on
        // its own logits and random stream, so the batch samples in parallel on the compute threads (a
        // vocabulary-wide softmax per sequence is most of a step's serial time at large batches); events then go out
        // in batch order on this thread.
        List<StepPlan.Chunk> chunks = plan.chunks();
        int[] sampled = new int[chunks.size()];
        int nSampled = 0;
        for (int e = 0; e < chunks.size(); e++) {
            Seq s = chunks.get(e).seq();
            s.computed = chunks.get(e).to();
            // Blocks it completed are immutable now: later sequences may share them.
            if (planner.prefixCaching()) kv.cacheBlocks(s.kvSeq, s.tokens, s.computed);
            if (s.computed == s.tokenCount) sampled[nSampled++] = e; // else more prefill to go
        }
        // A speculating sequence verifies its drafts instead: one or more tokens (see Speculator).
        Generation.Step[][] next = new Generation.Step[chunks.size()][];
        model.parallelFor(nSampled, 1, (a, b, w) -> {
            for (int i = a; i < b; i++) {
                int e = sampled[i];
                Seq s = chunks.get(e).seq();
                next[e] = chunks.get(e).drafts() > 0
                        ? speculator.verify(s, result, e)
                        : new Generation.Step[] {s.generation.next(result.logits(e))};
            }
        });
        for (int i = 0; i < nSampled; i++) {
            int e = sampled[i];
            StepPlan.Chunk c = chunks.get(e);
            Seq s = c.seq();
            Generation.Step last = null;
            for (Generation.Step st : next[e]) {
                generatedTokens.incrementAndGet();
                notifyToken(s, st);
                last = st;
                if (!st.finished()) s.append(st.token());
            }
            if (c.drafts() > 0) {
                // Keys and values are final up to the last kept draft; rejected drafts' positions go back to the pool
                // before any block holding them could be cached.
                s.computed = c.to() + s.spec.accepted;
                if (!last.finished()) {
                    kv.truncate(s.kvSeq, s.computed);
                    if (planner.prefixCaching()) kv.cacheBlocks(s.kvSeq, s.tokens, s.computed);
                }
                speculator.settle(s);
            }
            if (last.finished()) {
                queue.removeRunning(s);
                finish(s, last.finish());
            }
        }
        runningCount = queue.runningCount();
        return true;
    }

    private void retireCancelled() {
        for (Seq s : queue.removeCancelledRunning()) finish(s, null);
        for (Seq s : queue.removeCancelledWaiting()) finish(s, null);
        runningCount = queue.runningCount();
    }

    private void release(Seq s) {
        speculator.release(s);
        if (s.kvSeq != null) {
            kv.free(s.kvSeq);
            s.kvSeq = null;
        }
        s.done = true;
        double seconds = (System.nanoTime() - s.submittedNanos) / 1e9;
        averageSequenceSeconds = 0.9 * averageSequenceSeconds + 0.1 * seconds;
    }

    private void finish(Seq s, Generation.FinishReason reason) {
        release(s);
        SequenceOutcome outcome = new SequenceOutcome(
                reason,
                s.request.promptTokens().length,
                s.generation.generatedCount(),
                s.generation.text(),
                s.preemptions,
                s.cachedPromptTokens);
        try {
            s.listener.onFinish(outcome);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "sequence listener failed in onFinish", e);
        }
    }

    private void fail(Seq s, Throwable why) {
        release(s);
        try {
            s.listener.onError(why);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "sequence listener failed in onError", e);
        }
    }

    private void notifyToken(Seq s, Generation.Step st) {
        try {
            s.listener.onToken(st);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "sequence listener failed in onToken", e);
        }
    }

    // ------------------------------------------------------------------------------------------------

    /** Scheduler-side state of one sequence. */
    static final class Seq {
        final long id;
        final SequenceRequest request;
        final Generation generation;
        final SequenceListener listener;
        final SequenceHandle handle;
        final long submittedNanos = System.nanoTime();
        /** Prompt followed by the generated tokens that have been fed (or are to be fed) to the model. */
        int[] tokens;

        int tokenCount;
        /** Leading tokens whose keys/values are in the cache. */
        int computed;

        KvCachePool.Sequence kvSeq;
        int preemptions;
        /** Prompt tokens found in the prefix cache at its first admission (-1 until admitted). */
        int cachedPromptTokens = -1;
        /** Whether {@link SequenceListener#onAdmitted} (and {@link SequenceListener#onPrefixCacheLookup}) was called. */
        boolean lookupReported;
        /** Speculative decoding state (drafts, adaptive k, draft cache); null until it first decodes speculatively. */
        Speculator.State spec;

        volatile boolean cancelRequested;
        volatile boolean done;

        boolean low() {
            return request.priority() == SequenceRequest.Priority.LOW;
        }

        Seq(long id, SequenceRequest request, Generation generation, SequenceListener listener, Scheduler owner) {
            this.id = id;
            this.request = request;
            this.generation = generation;
            this.listener = listener;
            int[] prompt = request.promptTokens();
            this.tokens = Arrays.copyOf(prompt, prompt.length + Math.min(request.maxTokens(), 256));
            this.tokenCount = prompt.length;
            this.handle = new SequenceHandle(id, owner, this);
        }

        void append(int token) {
            if (tokenCount == tokens.length) tokens = Arrays.copyOf(tokens, tokens.length * 2);
            tokens[tokenCount++] = token;
        }
    }

    /** A submitted sequence: lets any thread cancel it. */
    public static final class SequenceHandle {
        private final long id;
        private final Scheduler owner;
        private final Seq seq;

        private SequenceHandle(long id, Scheduler owner, Seq seq) {
            this.id = id;
            this.owner = owner;
            this.seq = seq;
        }

        /** Unique per scheduler, in submission order. */
        public long id() {
            return id;
        }

        /**
         * Asks the scheduler to drop the sequence: at its next step the sequence leaves the batch (or the queue),
         * its blocks are freed and its listener gets {@link SequenceListener#onFinish} with a cancelled outcome.
         * No effect once it ended.
         */
        public void cancel() {
            owner.requestCancel(seq);
        }

        /** True once the sequence finished, was cancelled or failed. */
        public boolean isDone() {
            return seq.done;
        }

        /** How often it was preempted so far. */
        public int preemptions() {
            return seq.preemptions;
        }
    }
}
