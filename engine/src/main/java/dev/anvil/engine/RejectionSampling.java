package dev.anvil.engine;

import java.util.SplittableRandom;

/**
 * The acceptance rule of speculative sampling (Leviathan et al. 2023, "Fast Inference from Transformers via
 * Speculative Decoding"; Chen et al. 2023, "Accelerating Large Language Model Decoding with Speculative Sampling"):
 * a draft token {@code x} drawn from the draft's distribution {@code q} is kept with probability
 * {@code min(1, p(x) / q(x))}, {@code p} being the target's distribution; when it is not, the token is drawn from
 * {@code norm(max(0, p - q))}. Whatever {@code q} is, the token that comes out is distributed exactly as {@code p}:
 * P(y) = q(y) min(1, p(y)/q(y)) + (1 - Σ_x min(p(x), q(x))) · max(0, p(y) - q(y)) / Σ_x max(0, p(x) - q(x))
 * = min(q(y), p(y)) + max(0, p(y) - q(y)) = p(y), since both normalizers equal 1 - Σ min(p, q).
 */
final class RejectionSampling {

    private RejectionSampling() {}

    /**
     * Decides on draft {@code x} (drawn from {@code q}, so {@code q[x] > 0}) with one uniform from {@code random},
     * and on rejection a second one for the resample. Returns {@code x} when accepted, else the replacement token,
     * which is never {@code x} (a rejection means p(x) < q(x), so the residual is 0 at x).
     */
    static int acceptOrResample(float[] p, float[] q, int x, SplittableRandom random) {
        if (random.nextDouble() * q[x] < p[x]) return x;
        double total = 0;
        for (int i = 0; i < p.length; i++) if (p[i] > q[i]) total += p[i] - q[i];
        if (!(total > 0)) return sample(p, random); // p == q up to rounding: the rejection was rounding; p itself
        double u = random.nextDouble() * total;
        int last = -1;
        for (int i = 0; i < p.length; i++) {
            if (p[i] <= q[i]) continue;
            u -= p[i] - q[i];
            last = i;
            if (u < 0) return i;
        }
        return last;
    }

    /** A token drawn from the probabilities {@code p} (summing to 1 up to rounding). */
    static int sample(float[] p, SplittableRandom random) {
        double total = 0;
        for (float v : p) total += v;
        double u = random.nextDouble() * total;
        int last = 0;
        for (int i = 0; i < p.length; i++) {
            if (p[i] == 0f) continue;
            u -= p[i];
            last = i;
            if (u < 0) return i;
        }
        return last;
    }
}
