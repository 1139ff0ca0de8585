package dev.anvil.drift;

import java.util.Arrays;
import java.util.List;

/**
 * Population Stability Index and Kullback-Leibler divergence between a reference sample and a current sample of one
 * feature, over shared bins.
 *
 * <p>Bins. A numeric feature is cut at the reference's quantiles ({@code bins} equal-frequency bins, ties merged, so a
 * feature that takes few values gets one bin per value), with open-ended first and last bins so that current values
 * outside the reference's range still land somewhere. A categorical feature has one bin per category. Both samples are
 * counted into the same bins.
 *
 * <p>Statistics over bin proportions {@code r_i} (reference) and {@code c_i} (current), each smoothed with
 * {@link #EPSILON} so that an empty bin does not make them infinite:
 * <ul>
 *   <li>{@code PSI = sum (c_i - r_i) * ln(c_i / r_i)} (the symmetric form used in credit scoring: below 0.1 stable,
 *       0.1-0.25 moderate shift, above 0.25 significant shift)</li>
 *   <li>{@code KL(current || reference) = sum c_i * ln(c_i / r_i)}: how surprising the current traffic is under the
 *       reference distribution</li>
 * </ul>
 * Two samples of one distribution give PSI about {@code (bins - 1) * (1/n_r + 1/n_c)} by sampling noise alone, so
 * windows must be large enough for the threshold: 500 and 500 with 10 bins give about 0.036 against the 0.25 default.
 */
public final class DriftStatistics {

    /** Proportion given to an empty bin (then renormalized): about 1/10,000, far below one observation in a window. */
    static final double EPSILON = 1e-4;

    private DriftStatistics() {}

    /** The bins of one comparison, the proportions of each sample in them, and the statistics. */
    public record Comparison(List<String> bins, double[] reference, double[] current, double psi, double kl) {}

    /**
     * Upper bin edges of a numeric feature from the reference's quantiles: a value {@code v} falls in the first bin
     * whose edge is {@code >= v}; the last bin is open (edge +infinity). Ties merge bins.
     */
    static double[] quantileEdges(double[] reference, int bins) {
        double[] sorted = reference.clone();
        Arrays.sort(sorted);
        double[] edges = new double[bins];
        int n = 0;
        for (int b = 1; b < bins; b++) {
            // The last value of the b-th equal-frequency group closes bin b-1 (values equal to it are counted there);
            // a value that several quantiles land on is one edge.
            double q = sorted[Math.max(0, (int) ((long) b * sorted.length / bins) - 1)];
            if (n == 0 || q > edges[n - 1]) edges[n++] = q;
        }
        if (n > 0 && edges[n - 1] >= sorted[sorted.length - 1]) n--; // the top value belongs to the open last bin
        edges[n++] = Double.POSITIVE_INFINITY;
        return Arrays.copyOf(edges, n);
    }

    static int bin(double[] edges, double v) {
        int i = Arrays.binarySearch(edges, v);
        return i >= 0 ? i : Math.min(edges.length - 1, -i - 1);
    }

    /** Compares two samples of a numeric feature; both must be non-empty. */
    public static Comparison numeric(double[] reference, double[] current, int bins) {
        double[] edges = quantileEdges(reference, Math.max(2, bins));
        long[] r = new long[edges.length], c = new long[edges.length];
        for (double v : reference) r[bin(edges, v)]++;
        for (double v : current) c[bin(edges, v)]++;
        String[] labels = new String[edges.length];
        for (int i = 0; i < edges.length; i++) {
            labels[i] =
                    i == edges.length - 1 ? (i == 0 ? "all" : "> " + format(edges[i - 1])) : "<= " + format(edges[i]);
        }
        return compare(List.of(labels), r, c);
    }

    /** Compares two samples of a categorical feature over {@code categories} (every value is one of them). */
    public static Comparison categorical(List<String> categories, int[] reference, int[] current) {
        long[] r = new long[categories.size()], c = new long[categories.size()];
        for (int v : reference) r[v]++;
        for (int v : current) c[v]++;
        return compare(categories, r, c);
    }

    private static Comparison compare(List<String> bins, long[] r, long[] c) {
        double[] pr = proportions(r), pc = proportions(c);
        double psi = 0, kl = 0;
        for (int i = 0; i < pr.length; i++) {
            double ratio = Math.log(pc[i] / pr[i]);
            psi += (pc[i] - pr[i]) * ratio;
            kl += pc[i] * ratio;
        }
        return new Comparison(bins, pr, pc, psi, Math.max(0, kl));
    }

    private static double[] proportions(long[] counts) {
        long total = 0;
        for (long x : counts) total += x;
        double[] p = new double[counts.length];
        double sum = 0;
        for (int i = 0; i < counts.length; i++) {
            p[i] = Math.max(EPSILON, total == 0 ? 0 : (double) counts[i] / total);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    private static String format(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : String.format("%.4g", v);
    }
}
