package dev.anvil.drift;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The drift windows of one served version: per feature, a reference window (the first {@code referenceSize}
 * observations of that feature after the version started serving, or what an operator pinned) and a sliding current
 * window of the last {@code windowSize}; and which features are in breach since the last evaluation. Thread-safe
 * (observations come from the threads that finish requests; they only append).
 */
public final class VersionDrift {

    /** How windows are sized and compared. */
    public record Settings(
            int referenceSize, int windowSize, int minSamples, int bins, double psiThreshold, double klThreshold) {}

    /** One feature's windows and statistics; {@code comparison} is null until both windows hold min-samples. */
    public record FeatureReport(
            DriftFeature feature,
            int referenceCount,
            int currentCount,
            DriftStatistics.Comparison comparison,
            boolean breached) {}

    /** A version's report: when its reference was taken, every feature, and what changed at this evaluation. */
    public record Report(
            Instant referenceSince,
            List<FeatureReport> features,
            Set<DriftFeature> newlyBreached,
            Set<DriftFeature> cleared) {

        public List<FeatureReport> breached() {
            return features.stream().filter(FeatureReport::breached).toList();
        }
    }

    /** A fixed-capacity sample: the reference fills once; the current window overwrites its oldest value. */
    private static final class Window {
        final double[] values;
        int count, next;

        Window(int capacity) {
            values = new double[capacity];
        }

        boolean full() {
            return count == values.length;
        }

        void add(double v) {
            values[next] = v;
            next = (next + 1) % values.length;
            if (count < values.length) count++;
        }

        double[] snapshot() {
            return Arrays.copyOf(values, count); // order does not matter to the statistics
        }
    }

    private final Settings settings;
    /** Prompt embeddings (unit vectors): the reference's and the current window's, oldest overwritten. */
    private float[][] referenceVectors, currentVectors;

    private int referenceVectorCount, currentVectorCount, nextVector;
    private final Map<DriftFeature, Window> reference = new EnumMap<>(DriftFeature.class);
    private final Map<DriftFeature, Window> current = new EnumMap<>(DriftFeature.class);
    private final Set<DriftFeature> breached = EnumSet.noneOf(DriftFeature.class);
    private final Map<DriftFeature, FeatureReport> last = new EnumMap<>(DriftFeature.class);
    private Instant referenceSince;
    private long observations;

    public VersionDrift(Settings settings, Instant now) {
        this.settings = settings;
        this.referenceSince = now;
        for (DriftFeature f : DriftFeature.values()) {
            reference.put(f, new Window(settings.referenceSize()));
            current.put(f, new Window(settings.windowSize()));
        }
    }

    /** Adds a finished request's features; returns how many requests this version has seen. */
    public synchronized long observe(DriftObservation o) {
        add(DriftFeature.PROMPT_TOKENS, o.promptTokens());
        add(DriftFeature.COMPLETION_TOKENS, o.completionTokens());
        add(DriftFeature.LATENCY, o.latencyMs());
        if (o.ttftMs() != null) add(DriftFeature.TIME_TO_FIRST_TOKEN, o.ttftMs());
        if (!Double.isNaN(o.meanLogprob())) add(DriftFeature.MEAN_LOGPROB, o.meanLogprob());
        add(DriftFeature.FINISH_REASON, DriftFeature.FINISH_REASON.category(o.finishReason()));
        add(DriftFeature.GUARDRAIL, DriftFeature.GUARDRAIL.category(o.guardrail()));
        return ++observations;
    }

    /** A prompt's embedding (any length; scaled to a unit vector here) by the drift embedding model. */
    public synchronized void promptEmbedding(float[] embedding) {
        float[] unit = unit(embedding);
        if (referenceVectors == null) {
            referenceVectors = new float[settings.referenceSize()][];
            currentVectors = new float[settings.windowSize()][];
        }
        if (referenceVectorCount > 0 && referenceVectors[0].length != unit.length) return; // another model's width
        if (referenceVectorCount < referenceVectors.length) {
            referenceVectors[referenceVectorCount++] = unit;
        } else {
            currentVectors[nextVector] = unit;
            nextVector = (nextVector + 1) % currentVectors.length;
            if (currentVectorCount < currentVectors.length) currentVectorCount++;
        }
    }

    /** The similarities of both windows' prompts to the reference's centroid, as that feature's samples. */
    private double[][] embeddingSamples() {
        if (referenceVectorCount == 0) return new double[][] {new double[0], new double[0]};
        int dims = referenceVectors[0].length;
        float[] centroid = new float[dims];
        for (int i = 0; i < referenceVectorCount; i++) {
            for (int d = 0; d < dims; d++) centroid[d] += referenceVectors[i][d];
        }
        centroid = unit(centroid);
        double[] ref = new double[referenceVectorCount], cur = new double[currentVectorCount];
        for (int i = 0; i < ref.length; i++) ref[i] = dot(referenceVectors[i], centroid);
        for (int i = 0; i < cur.length; i++) cur[i] = dot(currentVectors[i], centroid);
        return new double[][] {ref, cur};
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    private static float[] unit(float[] v) {
        return dev.anvil.engine.BertEncoder.normalized(v);
    }

    /** A rating of one of this version's responses. */
    public synchronized void feedback(boolean negative) {
        add(DriftFeature.FEEDBACK, DriftFeature.FEEDBACK.category(negative ? "negative" : "positive"));
    }

    private void add(DriftFeature f, double v) {
        Window ref = reference.get(f);
        if (!ref.full()) ref.add(v);
        else current.get(f).add(v);
    }

    /**
     * Makes the current windows the reference (an operator says the traffic of now is the normal one) and starts new
     * current windows; a feature with no current observations starts its reference again. Clears every breach.
     */
    public synchronized void pinReference(Instant now) {
        for (DriftFeature f : DriftFeature.values()) {
            Window cur = current.get(f), ref = new Window(settings.referenceSize());
            for (double v : cur.snapshot()) {
                if (!ref.full()) ref.add(v);
            }
            reference.put(f, ref);
            current.put(f, new Window(settings.windowSize()));
        }
        if (referenceVectors != null) {
            float[][] ref = new float[settings.referenceSize()][];
            int n = 0;
            for (int i = 0; i < currentVectorCount && n < ref.length; i++) ref[n++] = currentVectors[i];
            referenceVectors = ref;
            referenceVectorCount = n;
            currentVectors = new float[settings.windowSize()][];
            currentVectorCount = 0;
            nextVector = 0;
        }
        referenceSince = now;
        breached.clear();
        last.clear();
    }

    /** Computes every feature's statistics and which features entered or left breach since the last evaluation. */
    public synchronized Report evaluate() {
        List<FeatureReport> features = new ArrayList<>();
        Set<DriftFeature> newly = EnumSet.noneOf(DriftFeature.class), cleared = EnumSet.noneOf(DriftFeature.class);
        for (DriftFeature f : DriftFeature.values()) {
            double[] refSamples, curSamples;
            if (f == DriftFeature.PROMPT_EMBEDDING) {
                double[][] samples = embeddingSamples();
                refSamples = samples[0];
                curSamples = samples[1];
            } else {
                refSamples = reference.get(f).snapshot();
                curSamples = current.get(f).snapshot();
            }
            DriftStatistics.Comparison c = null;
            boolean breach = false;
            if (refSamples.length >= settings.minSamples() && curSamples.length >= settings.minSamples()) {
                c = f.numeric()
                        ? DriftStatistics.numeric(refSamples, curSamples, settings.bins())
                        : DriftStatistics.categorical(f.categories(), ints(refSamples), ints(curSamples));
                breach = c.psi() >= settings.psiThreshold() || c.kl() >= settings.klThreshold();
            }
            if (breach && breached.add(f)) newly.add(f);
            if (!breach && c != null && breached.remove(f)) cleared.add(f);
            FeatureReport r = new FeatureReport(f, refSamples.length, curSamples.length, c, breached.contains(f));
            last.put(f, r);
            features.add(r);
        }
        return new Report(referenceSince, List.copyOf(features), newly, cleared);
    }

    /** The feature's statistics at the last evaluation (null before the first). */
    public synchronized FeatureReport lastReport(DriftFeature f) {
        return last.get(f);
    }

    private static int[] ints(double[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (int) v[i];
        return out;
    }
}
