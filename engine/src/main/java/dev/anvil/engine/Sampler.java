package dev.anvil.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks tokens from logits according to {@link SamplingParams}. One sampler per request: it owns the
 * request's random stream ({@link SplittableRandom} seeded with {@link SamplingParams#seed()}), so the tokens
 * depend only on the request's own logits, which the forward pass computes identically whatever else shares
 * the batch. Not thread-safe.
 *
 * <p>Pipeline: penalties over the last {@code penaltyLastN} tokens of the history → temperature → top-k →
 * softmax → top-p → min-p → draw. Temperature first, as in vLLM and the OpenAI API, so top-p and min-p act
 * on the distribution that is actually sampled. Reported log-probabilities are those of the model's own
 * distribution (log-softmax of the raw logits), independent of the sampling settings, as vLLM reports them; under
 * a grammar ({@link #sample(float[], int[], int, long[])}) the model's distribution is the masked one.
 */
public final class Sampler {

    /** A chosen token, its log-probability, and (if asked for) the most likely alternatives, best first. */
    public record SampledToken(int token, float logprob, int[] topTokens, float[] topLogprobs) {}

    /** Candidates more than this far (in tempered logits) below the best have probability below e^-40 ≈ 4e-18 and are dropped before sorting. */
    private static final float NEGLIGIBLE_LOGIT_GAP = 40f;

    private static final int[] NO_TOKENS = {};
    private static final float[] NO_LOGPROBS = {};

    private final SamplingParams params;
    private final SplittableRandom random;

    public Sampler(SamplingParams params) {
        this.params = params;
        this.random = new SplittableRandom(params.seed());
    }

    public SamplingParams params() {
        return params;
    }

    /**
     * Chooses the next token. {@code history[0 .. historyLength)} are the tokens so far (prompt and generated)
     * for the penalties; {@code logits} is not modified.
     */
    public SampledToken sample(float[] logits, int[] history, int historyLength) {
        return sample(logits, history, historyLength, null);
    }

    /**
     * Chooses the next token among those {@code allowed} (a bitset over token ids, bit {@code id & 63} of word
     * {@code id >>> 6}; null = all), as constrained decoding asks: every other token's logit is -∞ before any
     * penalty, temperature or filter sees the distribution, and the reported log-probabilities are those of the
     * masked distribution (the model's, renormalized over the allowed tokens). {@code allowed} must allow a token.
     */
    public SampledToken sample(float[] logits, int[] history, int historyLength, long[] allowed) {
        float[] l = logits.clone();
        applyPenalties(l, history, historyLength);
        float[] reported = logits;
        if (allowed != null) {
            mask(l, allowed);
            if (params.topLogprobs() >= 0) mask(reported = logits.clone(), allowed);
        }
        int token = params.greedy() || params.topK() == 1 ? argmax(l) : draw(l);
        if (allowed != null && !TokenTrie.allows(allowed, token)) token = firstAllowed(allowed); // all -∞ or NaN
        return withLogprobs(token, reported);
    }

    private static void mask(float[] l, long[] allowed) {
        for (int w = 0; w < allowed.length; w++) {
            long bits = allowed[w];
            if (bits == -1L) continue;
            for (int i = w << 6, end = Math.min(l.length, i + 64); i < end; i++)
                if ((bits >>> i & 1) == 0) l[i] = Float.NEGATIVE_INFINITY;
        }
    }

    private static int firstAllowed(long[] allowed) {
        for (int w = 0; w < allowed.length; w++)
            if (allowed[w] != 0) return (w << 6) + Long.numberOfTrailingZeros(allowed[w]);
        throw new IllegalArgumentException("the mask allows no token");
    }

    /**
     * The distribution {@link #sample} draws from, as probabilities over the whole vocabulary (0 outside the tokens
     * the filters keep; one-hot at the argmax when greedy), without drawing: what speculative decoding's rejection
     * sampling compares a draft's distribution with. Same pipeline as {@link #sample} (penalties, temperature, top-k,
     * softmax, top-p, min-p); {@code logits} is not modified and the random stream is not used.
     */
    public float[] distribution(float[] logits, int[] history, int historyLength) {
        float[] l = logits.clone();
        applyPenalties(l, history, historyLength);
        float[] p = new float[l.length];
        if (params.greedy() || params.topK() == 1) {
            p[argmax(l)] = 1f;
            return p;
        }
        float inv = 1f / params.temperature();
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < l.length; i++) {
            l[i] *= inv;
            if (l[i] > max) max = l[i];
        }
        if (params.topK() <= 0 && params.topP() >= 1f && params.minP() <= 0f) {
            double total = 0; // no filter needs the rank order: the softmax in id order, as draw() walks it
            for (int i = 0; i < l.length; i++)
                total += p[i] = l[i] >= max - NEGLIGIBLE_LOGIT_GAP ? ExpF.exp(l[i] - max) : 0f;
            for (int i = 0; i < l.length; i++) p[i] = (float) (p[i] / total);
            return p;
        }
        long[] keys = rankedCandidates(l, max);
        int n = keys.length;
        if (params.topK() > 0) n = Math.min(n, params.topK());
        double[] w = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += w[i] = StrictMath.exp(l[(int) keys[i]] - max);
        n = keptByTopPAndMinP(w, n, sum);
        double total = 0;
        for (int i = 0; i < n; i++) total += w[i];
        for (int i = 0; i < n; i++) p[(int) keys[i]] = (float) (w[i] / total);
        return p;
    }

    /** How many of the candidates (weights {@code p[0, n)} best first, summing to {@code sum}) top-p and min-p keep. */
    private int keptByTopPAndMinP(double[] p, int n, double sum) {
        if (params.topP() < 1f) {
            double cumulative = 0;
            for (int i = 0; i < n; i++) {
                cumulative += p[i] / sum;
                if (cumulative >= params.topP()) {
                    n = i + 1;
                    break;
                }
            }
        }
        if (params.minP() > 0f) {
            double floor = params.minP() * p[0];
            int keep = 1;
            while (keep < n && p[keep] >= floor) keep++;
            n = keep;
        }
        return n;
    }

    private void applyPenalties(float[] l, int[] history, int n) {
        boolean rep = params.repetitionPenalty() != 1f,
                freq = params.frequencyPenalty() != 0f,
                pres = params.presencePenalty() != 0f;
        if (!(rep || freq || pres) || params.penaltyLastN() == 0 || n == 0) return;
        int from = params.penaltyLastN() < 0 ? 0 : Math.max(0, n - params.penaltyLastN());
        int[] ids = Arrays.copyOfRange(history, from, n);
        Arrays.sort(ids);
        for (int i = 0; i < ids.length; ) {
            int id = ids[i], count = 0;
            while (i < ids.length && ids[i] == id) {
                i++;
                count++;
            }
            if (id < 0 || id >= l.length) continue;
            float v = l[id];
            if (rep) v = v > 0 ? v / params.repetitionPenalty() : v * params.repetitionPenalty();
            v -= count * params.frequencyPenalty() + (pres ? params.presencePenalty() : 0f);
            l[id] = v;
        }
    }

    static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
        return best;
    }

    private int draw(float[] l) {
        float inv = 1f / params.temperature();
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < l.length; i++) {
            l[i] *= inv;
            if (l[i] > max) max = l[i];
        }
        if (params.topK() <= 0 && params.topP() >= 1f && params.minP() <= 0f) {
            // No filter needs the candidates in rank order: draw straight from the softmax in id order. Sorting
            // a flat distribution (every token within the gap) costs milliseconds per token at a 49k vocabulary.
            // One exp per candidate, kept in l (our copy) for the walk; negligible ones become 0 and are skipped.
            double total = 0;
            for (int i = 0; i < l.length; i++) {
                l[i] = l[i] >= max - NEGLIGIBLE_LOGIT_GAP ? ExpF.exp(l[i] - max) : 0f;
                total += l[i];
            }
            double u = random.nextDouble() * total;
            int last = 0;
            for (int i = 0; i < l.length; i++) {
                if (l[i] == 0f) continue;
                u -= l[i];
                if (u < 0) return i;
                last = i;
            }
            return last;
        }
        long[] keys = rankedCandidates(l, max);
        int n = keys.length;
        if (params.topK() > 0) n = Math.min(n, params.topK());
        int[] ids = new int[n];
        double[] p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            ids[i] = (int) keys[i];
            p[i] = StrictMath.exp(l[ids[i]] - max);
            sum += p[i];
        }
        n = keptByTopPAndMinP(p, n, sum);
        double total = 0;
        for (int i = 0; i < n; i++) total += p[i];
        double u = random.nextDouble() * total;
        for (int i = 0; i < n; i++) {
            u -= p[i];
            if (u < 0) return ids[i];
        }
        return ids[n - 1];
    }

    /**
     * The non-negligible candidates (logit within {@code NEGLIGIBLE_LOGIT_GAP} of {@code max}) sorted by logit, best
     * first, ties by lower id for determinism: each key is the descending-order logit in the high half, the id below.
     */
    private static long[] rankedCandidates(float[] l, float max) {
        long[] keys = new long[l.length];
        int n = 0;
        for (int i = 0; i < l.length; i++) {
            if (l[i] >= max - NEGLIGIBLE_LOGIT_GAP) keys[n++] = ((long) descendingKey(l[i]) << 32) | i;
        }
        keys = Arrays.copyOf(keys, n);
        Arrays.sort(keys);
        return keys;
    }

    /** An int that orders floats descending when compared as signed ints (larger float → smaller key). */
    private static int descendingKey(float f) {
        int bits = Float.floatToIntBits(f);
        int ascending = bits >= 0 ? bits : bits ^ 0x7FFFFFFF; // monotone in f
        return ~ascending;
    }

    /**
     * {@code token} with its log-probability and the requested alternatives under {@code logits} (the model's own
     * distribution), as {@link #sample} reports them: for a token chosen elsewhere (an accepted speculative draft).
     */
    public SampledToken withLogprobs(int token, float[] logits) {
        // Nobody asked for log-probabilities: skip the normalizer (an exp per vocabulary entry per token).
        if (params.topLogprobs() < 0) return new SampledToken(token, Float.NaN, NO_TOKENS, NO_LOGPROBS);
        float max = Float.NEGATIVE_INFINITY;
        int finite = 0;
        for (float v : logits) {
            if (v > max) max = v;
            if (v != Float.NEGATIVE_INFINITY) finite++;
        }
        double sum = 0;
        for (float v : logits) // once per vocabulary entry per token: the cheap exact-enough exp
        if (v != Float.NEGATIVE_INFINITY) sum += ExpF.exp(v - max);
        float logZ = (float) (max + StrictMath.log(sum));
        // Masked-out tokens (-∞) are no alternatives: report at most the tokens that could have been chosen.
        int k = Math.min(params.topLogprobs(), finite);
        int[] top = new int[k];
        float[] topLp = new float[k];
        if (k > 0) {
            // Partial selection: k is small (<= 100), one pass with insertion into a sorted prefix.
            int filled = 0;
            for (int i = 0; i < logits.length; i++) {
                float v = logits[i];
                if (filled == k && v <= logits[top[k - 1]]) continue;
                int j = filled < k ? filled++ : k - 1;
                while (j > 0 && logits[top[j - 1]] < v) {
                    top[j] = top[j - 1];
                    j--;
                }
                top[j] = i;
            }
            for (int i = 0; i < k; i++) topLp[i] = logits[top[i]] - logZ;
        }
        return new SampledToken(token, logits[token] - logZ, top, topLp);
    }
}
