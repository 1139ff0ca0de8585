package dev.anvil.engine;

import dev.anvil.engine.Scheduler.Seq;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Speculative decoding for a {@link Scheduler}: drafts tokens for decoding sequences, and turns the target's logits
 * at every drafted position into the tokens the sequence emits. Runs on the stepping thread, except {@link #verify},
 * which touches one sequence's state only and runs in parallel over the batch.
 *
 * <p>A step with speculation: the planner reserves KV room for {@code 1 + k} positions of a decoding sequence
 * ({@link #budget}: k adapts to the sequence's acceptance), {@link #draft} proposes up to k tokens, and the target's one
 * batched forward pass runs {@code [pending token, d1 .. dk]} of that sequence with logits at every position, next to
 * the other sequences' decode tokens and prefill chunks. {@link #verify} then walks the positions: the logits after
 * the pending token decide on d1, those after d1 on d2, and so on; the first token that differs from its draft ends
 * the walk (the target's own token at that position is emitted instead), and when every draft is kept the logits
 * after dk give one more token. So a step emits between 1 and k + 1 tokens, and the scheduler truncates the KV cache
 * back to the positions whose tokens were kept.
 *
 * <p>Exactness. The forward pass is batch- and chunk-invariant, so the logits at a drafted position are bit for bit
 * those a one-token decode step would have computed. Where drafts are point proposals — prompt lookup, and any draft
 * when sampling is greedy — the target picks its token at each position with the sequence's own sampler
 * ({@link Generation#next}: same penalties, same random stream, one draw per emitted token) and the draft is kept
 * iff the target picked it. That is rejection sampling with a point-mass draft distribution (keep x with probability
 * p(x), else draw from p without x), and more: the emitted tokens are exactly those of non-speculative decoding,
 * greedy or seeded. A draft model sampling at temperature > 0 proposes x from its own distribution q (the same
 * sampling pipeline over the draft's logits) and the target keeps x with probability min(1, p(x)/q(x)), else draws
 * from norm(max(0, p - q)) ({@link RejectionSampling}); the output is distributed exactly as the target's, though
 * not token for token the same as without speculation (the draws differ). A bonus token after all drafts were kept
 * comes from the sequence's sampler as usual.
 *
 * <p>Adaptive k. Each sequence starts at {@link Speculation#maxDraftTokens()}. After a verification where all d
 * drafts were kept, k grows by one (up to the maximum); otherwise it becomes {@code accepted + 1}. A moving average
 * of the fraction of drafts kept below {@link #PAUSE_BELOW} stops the sequence from drafting for a number of steps
 * that doubles at each consecutive pause (8 up to 512) and resets when a probe after a pause is kept: a workload the
 * drafts do not fit pays one wasted draft now and then instead of one every step. A draft model stops a sequence's
 * drafts at the first token it gives less than {@link Speculation#draftMinProbability()} (llama.cpp's
 * {@code --draft-p-min}); a step where it is unsure of the very first one verifies nothing and counts as a miss. Each
 * probe after a pause first catches the draft up on the tokens of the pause, so after
 * {@link #DRAFT_GIVES_UP_AFTER} failed probes in a row (the first, where no draft was ever kept) a sequence gives its
 * draft up. The draft prefills a prompt in
 * the steps the target does ({@link #followPrefill}), not in the sequence's first decoding step.
 */
final class Speculator {

    /** Moving average of the kept fraction below which a sequence pauses drafting. */
    static final double PAUSE_BELOW = 0.3;
    /** Weight of the newest verification in that average: reacts within two or three steps. */
    private static final double RATE_WEIGHT = 0.5;

    static final int FIRST_PAUSE = 8;
    static final int LONGEST_PAUSE = 512;
    /**
     * Failed probes in a row after which a sequence stops drafting with a draft model for good (one, where no draft
     * of the sequence was ever kept): each probe first catches the draft up on every token of the pause (a prefill of
     * the draft), so a draft that does not fit the text would otherwise cost a draft prefill of the whole output.
     */
    static final int DRAFT_GIVES_UP_AFTER = 3;

    private static final int[] NO_DRAFTS = {};

    /** One sequence's speculation state. */
    static final class State {
        int k;
        double rate = 1;
        int pausedSteps;
        int pauseLength = FIRST_PAUSE;
        /** Whether the next verification is the probe after a pause. */
        boolean probing;
        /** This step's drafts, and (draft model at temperature > 0) the draft distribution each was drawn from. */
        int[] drafts = NO_DRAFTS;

        float[][] q;
        /** Drafts kept by this step's verification. */
        int accepted;
        /** The draft model was too unsure of this step's first token to propose anything. */
        boolean unsure;
        /** Probes after a pause that kept nothing, in a row. */
        int failedProbes;
        /** Whether any draft of the sequence was kept so far. */
        boolean everKept;
        /** The sequence drafts no more (a draft model that failed {@link #DRAFT_GIVES_UP_AFTER} probes). */
        boolean gaveUp;
        /** For rejection sampling and sampled drafts; seeded from the request, so runs reproduce. */
        SplittableRandom random;

        Sampler draftSampler;
        KvCachePool.Sequence draftSeq;
        /** Leading tokens of the sequence whose keys and values are in the draft's cache. */
        int draftComputed;
    }

    private final Speculation config;
    private final int targetContext;
    /** The draft model and its cache ({@link Speculation.Method#DRAFT} only, else null). */
    private final LlamaModel draft;

    private final KvCachePool draftKv;
    /** Most tokens the draft catches up on in one step (its prefill of a new sequence's prompt is chunked). */
    private final int catchUpTokens;

    private final AtomicLong drafted = new AtomicLong();
    private final AtomicLong acceptedTotal = new AtomicLong();

    Speculator(Speculation config, LlamaModel target, LlamaModel draft, long targetKvBytes, int catchUpTokens) {
        this.config = config;
        this.targetContext = target.config().contextLength();
        this.catchUpTokens = catchUpTokens;
        if (config.method() == Speculation.Method.DRAFT) {
            if (draft == null) throw new IllegalArgumentException("speculation method DRAFT needs a draft model");
            requireSameVocabulary(target, draft);
            this.draft = draft;
            long bytes = config.draftKvCacheBytes() > 0
                    ? config.draftKvCacheBytes()
                    : targetKvBytes
                            / KvCachePool.bytesPerBlock(target.config())
                            * KvCachePool.bytesPerBlock(draft.config());
            this.draftKv = draft.newKvCachePool(Math.max(bytes, KvCachePool.bytesPerBlock(draft.config())));
        } else {
            this.draft = null;
            this.draftKv = null;
        }
    }

    /**
     * Refuses a draft whose tokens are not the target's: the same ids must mean the same text, or its drafts would be
     * verified as other tokens (and its distributions compared with unrelated ones).
     *
     * @throws UnsupportedModelException naming the first difference
     */
    static void requireSameVocabulary(LlamaModel target, LlamaModel draft) {
        Tokenizer.Vocabulary t = target.tokenizer().vocabulary(),
                d = draft.tokenizer().vocabulary();
        int tv = target.config().vocabSize(), dv = draft.config().vocabSize();
        if (tv != dv || t.size() != d.size()) {
            throw new UnsupportedModelException("the draft model has a vocabulary of " + dv + " tokens, the target "
                    + tv + ": a draft model must share the target's vocabulary");
        }
        for (int i = 0; i < t.size(); i++) {
            if (!t.text(i).equals(d.text(i))) {
                throw new UnsupportedModelException("token " + i + " is '" + d.text(i) + "' in the draft model but '"
                        + t.text(i) + "' in the target: a draft model must share the target's vocabulary");
            }
        }
        if (t.bos() != d.bos() || t.eos() != d.eos())
            throw new UnsupportedModelException("the draft model's BOS/EOS tokens differ from the target's");
    }

    boolean enabled() {
        return config.enabled();
    }

    Speculation config() {
        return config;
    }

    long draftedTokens() {
        return drafted.get();
    }

    long acceptedTokens() {
        return acceptedTotal.get();
    }

    private State state(Seq s) {
        if (s.spec == null) {
            State st = new State();
            st.k = config.maxDraftTokens();
            long seed = s.request.sampling().seed();
            st.random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + 0x5851F42D4C957F2DL);
            st.draftSampler = new Sampler(s.request.sampling());
            s.spec = st;
        }
        return s.spec;
    }

    /**
     * How many drafts decoding sequence {@code s} may propose this step (0: none): its adaptive k, within what its
     * token limit and the context leave. Counts down a pause; called once per step for every decoding sequence.
     */
    int budget(Seq s) {
        if (!config.enabled()) return 0;
        State st = state(s);
        st.drafts = NO_DRAFTS;
        st.q = null;
        st.unsure = false;
        if (st.gaveUp) return 0;
        if (st.pausedSteps > 0) {
            if (--st.pausedSteps == 0) {
                // Probe with one draft; a single miss pauses again (longer), a hit resumes.
                st.k = 1;
                st.rate = PAUSE_BELOW + (1 - PAUSE_BELOW) * RATE_WEIGHT / 2;
                st.probing = true;
            }
            return 0;
        }
        // The token emitted after the last kept draft counts against max tokens too; positions pending .. pending + k
        // must fit in the context (and, drafting, the draft's positions up to pending + k - 1 in its own).
        int k = Math.min(st.k, s.generation.remainingTokens() - 1);
        k = Math.min(k, targetContext - s.tokenCount);
        if (draft != null) k = Math.min(k, draft.config().contextLength() - s.tokenCount + 1);
        return Math.max(0, k);
    }

    /**
     * Proposes drafts for the sequences of {@code seqs}, at most {@code budgets[i]} each (fewer, or none, where the
     * prompt lookup finds nothing or the draft's cache is full or still catching up); read by {@link #verify}.
     */
    void draft(List<Seq> seqs, int[] budgets) {
        if (seqs.isEmpty()) return;
        if (draft == null) {
            for (int i = 0; i < seqs.size(); i++) {
                Seq s = seqs.get(i);
                s.spec.drafts = lookup(s.tokens, s.tokenCount, config.ngramMin(), config.ngramMax(), budgets[i]);
            }
            return;
        }
        draftWithModel(seqs, budgets);
    }

    /**
     * The draft model's share of a step's prefill: it follows the prompts the target prefills this step, up to
     * {@code upTo[i]} tokens of {@code seqs.get(i)} (from what the draft has, at most {@code catchUpTokens} of them:
     * a prefix the target found cached is prefilled by the draft all the same), in one batched pass. A sequence then
     * drafts from its first decoding step on instead of that step catching the draft up on its whole prompt. No-op
     * without a draft model; a sequence whose draft finds no room catches up later in {@link #draft}.
     */
    void followPrefill(List<Seq> seqs, int[] upTo) {
        if (draft == null || seqs.isEmpty()) return;
        Batch b = new Batch();
        for (int i = 0; i < seqs.size(); i++) {
            Seq s = seqs.get(i);
            State st = state(s);
            if (st.gaveUp) continue;
            if (st.draftSeq == null) {
                st.draftSeq = draftKv.newSequence();
                st.draftComputed = 0;
            }
            int end = Math.min(upTo[i], st.draftComputed + catchUpTokens);
            if (end <= st.draftComputed) continue;
            try {
                draftKv.reserve(st.draftSeq, end);
            } catch (KvCacheFullException full) {
                continue;
            }
            b.add(st.draftSeq, st.draftComputed, Arrays.copyOfRange(s.tokens, st.draftComputed, end));
            st.draftComputed = end;
        }
        if (!b.isEmpty()) draft.forward(b);
    }

    /**
     * Prompt lookup: the {@code k} tokens that followed the most recent earlier occurrence of the context's last n
     * tokens, for the largest n in {@code [minN, maxN]} that occurs (where the context ends first, the stretch from
     * the match to the end repeats).
     */
    static int[] lookup(int[] tokens, int length, int minN, int maxN, int k) {
        if (k <= 0) return NO_DRAFTS;
        for (int n = Math.min(maxN, length - 1); n >= minN; n--) {
            int suffix = length - n;
            // Most recent first: in a repeating stretch that is the continuation most likely to repeat again.
            for (int start = suffix - 1; start >= 0; start--) {
                if (tokens[start] != tokens[suffix]) continue;
                int m = 1;
                while (m < n && tokens[start + m] == tokens[suffix + m]) m++;
                if (m < n) continue;
                // What followed, continued past the context's end as the repeat it is: in a stretch of period
                // p = suffix - start the next tokens repeat the last p (llama.cpp's lookup re-drafts from its own
                // drafts
                // the same way), so a short loop still drafts k tokens.
                int from = start + n;
                int[] drafts = new int[k];
                for (int i = 0; i < k; i++)
                    drafts[i] = from + i < length ? tokens[from + i] : drafts[from + i - length];
                return drafts;
            }
        }
        return NO_DRAFTS;
    }

    /**
     * The draft model's part of a step: up to {@code max(budgets)} batched forward passes of the draft over every
     * speculating sequence, the first also catching the draft's cache up with the tokens it has not seen (the
     * prompt, the last step's emitted tokens; chunked for long prompts, which then draft nothing this step).
     */
    private void draftWithModel(List<Seq> seqs, int[] budgets) {
        int n = seqs.size();
        int[] k = budgets.clone();
        int[][] history = new int[n][];
        Batch first = new Batch();
        int[] entryOf = new int[n];
        int entries = 0;
        for (int i = 0; i < n; i++) {
            Seq s = seqs.get(i);
            State st = s.spec;
            entryOf[i] = -1;
            if (st.draftSeq == null) {
                st.draftSeq = draftKv.newSequence();
                st.draftComputed = 0;
            }
            int behind = s.tokenCount - st.draftComputed;
            int end = behind > catchUpTokens ? st.draftComputed + catchUpTokens : s.tokenCount + k[i] - 1;
            if (behind > catchUpTokens) k[i] = 0;
            try {
                draftKv.reserve(st.draftSeq, end);
            } catch (KvCacheFullException full) {
                k[i] = 0; // the draft's cache is busy with other sequences: no drafts this step
                continue;
            }
            int upTo = Math.min(end, s.tokenCount);
            first.add(st.draftSeq, st.draftComputed, Arrays.copyOfRange(s.tokens, st.draftComputed, upTo));
            entryOf[i] = entries++;
            st.draftComputed = upTo;
            if (k[i] > 0) {
                st.drafts = new int[k[i]];
                // Under a grammar the draft proposes point drafts, verified by the sequence's own masked sampler:
                // q and p of the rejection rule know nothing of the mask, so they could keep a forbidden token.
                if (!s.request.sampling().greedy() && s.request.grammar() == null) st.q = new float[k[i]][];
                history[i] = Arrays.copyOf(s.tokens, s.tokenCount + k[i]);
            }
        }
        if (first.isEmpty()) return;
        ForwardResult r = draft.forward(first);
        int rounds = 0;
        for (int i = 0; i < n; i++) {
            if (entryOf[i] >= 0 && k[i] > 0 && !pick(seqs.get(i), 0, r.logits(entryOf[i]), history[i])) k[i] = 0;
            rounds = Math.max(rounds, k[i]);
        }
        for (int j = 1; j < rounds; j++) {
            Batch b = new Batch();
            for (int i = 0; i < n; i++) {
                if (k[i] <= j) continue;
                State st = seqs.get(i).spec;
                b.add(st.draftSeq, st.draftComputed, st.drafts[j - 1]);
                entryOf[i] = b.entries().size() - 1;
                st.draftComputed++;
            }
            r = draft.forward(b);
            for (int i = 0; i < n; i++) {
                if (k[i] > j && !pick(seqs.get(i), j, r.logits(entryOf[i]), history[i])) k[i] = j;
            }
        }
    }

    /**
     * Draft {@code j} of {@code s} from the draft's logits: greedy, or drawn from q (kept for verification). False
     * where the draft gives its token less than the minimum probability: then the sequence's drafts end before it
     * ({@link State#unsure} if that is the first).
     */
    private boolean pick(Seq s, int j, float[] logits, int[] history) {
        State st = s.spec;
        int length = s.tokenCount + j;
        int token;
        boolean sure;
        if (st.q == null) {
            token = st.draftSampler.sample(logits, history, length).token(); // a point draft
            sure = atLeast(logits, token, config.draftMinProbability());
        } else {
            st.q[j] = st.draftSampler.distribution(logits, history, length);
            token = RejectionSampling.sample(st.q[j], st.random);
            sure = st.q[j][token] >= config.draftMinProbability();
        }
        if (!sure) {
            st.drafts = Arrays.copyOf(st.drafts, j);
            if (st.q != null) st.q = Arrays.copyOf(st.q, j);
            st.unsure = j == 0;
            return false;
        }
        st.drafts[j] = token;
        history[length] = token;
        return true;
    }

    /**
     * Whether the softmax of {@code logits} gives {@code token} at least probability {@code p}: whether
     * {@code sum_i exp(l_i - l_token) <= 1/p}. The sum stops as soon as it passes the bound (an unsure draft, whose
     * rivals come early), and skips logits more than 20 below the token's (each adds under 2.1e-9), so a confident
     * draft costs one comparison per vocabulary entry and a handful of exponentials.
     */
    static boolean atLeast(float[] logits, int token, double p) {
        if (p <= 0) return true;
        double bound = 1 / p, sum = 0;
        float top = logits[token];
        for (float l : logits) {
            float d = l - top;
            if (d > -20) {
                sum += Math.exp(d);
                if (sum > bound) return false;
            }
        }
        return true;
    }

    /**
     * The tokens {@code s} emits this step from the target's logits of entry {@code entry} ({@code 1 + drafts}
     * positions); sets the state's {@link State#accepted}. Stops at the first token that ends the generation.
     */
    Generation.Step[] verify(Seq s, ForwardResult result, int entry) {
        State st = s.spec;
        int[] d = st.drafts;
        Generation g = s.generation;
        Generation.Step[] out = new Generation.Step[d.length + 1];
        int n = 0, kept = 0;
        for (int i = 0; i <= d.length; i++) {
            float[] logits = result.logits(entry, i);
            Generation.Step step;
            if (i < d.length && st.q != null) {
                int y = RejectionSampling.acceptOrResample(g.distribution(logits), st.q[i], d[i], st.random);
                step = g.acceptChosen(y, logits);
            } else {
                step = g.next(logits);
            }
            out[n++] = step;
            boolean keptDraft = i < d.length && step.token() == d[i];
            if (keptDraft) kept++;
            if (!keptDraft || step.finished()) break;
        }
        st.accepted = kept;
        return n == out.length ? out : Arrays.copyOf(out, n);
    }

    /**
     * After {@code s}'s verification (stepping thread): counts its drafts, adapts its k, and cuts the draft's cache
     * back to the tokens kept ({@code s.computed} leading tokens are final).
     */
    void settle(Seq s) {
        State st = s.spec;
        int d = st.drafts.length;
        if (d == 0) {
            // The draft was unsure of its first token: a miss for pausing (no draft was verified or counted).
            if (st.unsure) adapt(s, 0);
            st.unsure = false;
            return;
        }
        drafted.addAndGet(d);
        acceptedTotal.addAndGet(st.accepted);
        st.k = st.accepted == d ? Math.min(config.maxDraftTokens(), st.k + 1) : st.accepted + 1;
        adapt(s, (double) st.accepted / d);
        if (st.draftSeq != null && !s.done && st.draftComputed > s.computed) {
            draftKv.truncate(st.draftSeq, s.computed);
            st.draftComputed = s.computed;
        }
        st.drafts = NO_DRAFTS;
        st.q = null;
    }

    /**
     * Folds a step's kept fraction into the moving average; pauses drafting when it falls below the bar, and gives a
     * draft model up for the sequence after {@link #DRAFT_GIVES_UP_AFTER} failed probes in a row, or its first failed
     * probe if none of its drafts was ever kept (releasing its cache).
     */
    private void adapt(Seq s, double kept) {
        State st = s.spec;
        st.rate = (1 - RATE_WEIGHT) * st.rate + RATE_WEIGHT * kept;
        if (kept > 0) st.everKept = true;
        if (st.probing) {
            if (kept > 0) {
                st.pauseLength = FIRST_PAUSE;
                st.failedProbes = 0;
            } else if (++st.failedProbes >= (st.everKept ? DRAFT_GIVES_UP_AFTER : 1) && draft != null) {
                st.gaveUp = true;
                release(s);
            }
        }
        st.probing = false;
        if (st.rate < PAUSE_BELOW) {
            st.pausedSteps = st.pauseLength;
            st.pauseLength = Math.min(LONGEST_PAUSE, st.pauseLength * 2);
        }
    }

    /** Gives back the draft's blocks of a sequence that ended. */
    void release(Seq s) {
        if (s.spec != null && s.spec.draftSeq != null) {
            draftKv.free(s.spec.draftSeq);
            s.spec.draftSeq = null;
        }
    }

    /** The draft's KV cache (null without a draft model), for tests and metrics. */
    KvCachePool draftKvCache() {
        return draftKv;
    }
}
