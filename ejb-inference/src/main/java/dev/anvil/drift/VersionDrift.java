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
        referenceSince = now;
        breached.clear();
        last.clear();
    }

    /** Computes every feature's statistics and which features entered or left breach since the last evaluation. */
    public synchronized Report evaluate() {
        List<FeatureReport> features = new ArrayList<>();
        Set<DriftFeature> newly = EnumSet.noneOf(DriftFeature.class), cleared = EnumSet.noneOf(DriftFeature.class);
        for (DriftFeature f : DriftFeature.values()) {
            Window ref = reference.get(f), cur = current.get(f);
            DriftStatistics.Comparison c = null;
            boolean breach = false;
            if (ref.count >= settings.minSamples() && cur.count >= settings.minSamples()) {
                c = f.numeric()
                        ? DriftStatistics.numeric(ref.snapshot(), cur.snapshot(), settings.bins())
                        : DriftStatistics.categorical(f.categories(), ints(ref.snapshot()), ints(cur.snapshot()));
                breach = c.psi() >= settings.psiThreshold() || c.kl() >= settings.klThreshold();
            }
            if (breach && breached.add(f)) newly.add(f);
            if (!breach && c != null && breached.remove(f)) cleared.add(f);
            FeatureReport r = new FeatureReport(f, ref.count, cur.count, c, breached.contains(f));
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
