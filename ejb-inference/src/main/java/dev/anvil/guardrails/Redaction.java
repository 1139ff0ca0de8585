package dev.anvil.guardrails;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Applying spans to a text; shared by the PII detector and the blocked-term matcher. */
public final class Redaction {

    private Redaction() {}

    /** The spans sorted by start, overlaps removed (the earlier, then the longer span wins). */
    public static List<TextSpan> disjoint(List<TextSpan> spans) {
        List<TextSpan> sorted = new ArrayList<>(spans);
        sorted.sort(Comparator.comparingInt(TextSpan::start)
                .thenComparing(Comparator.comparingInt(TextSpan::end).reversed()));
        List<TextSpan> kept = new ArrayList<>();
        for (TextSpan s : sorted) {
            if (kept.isEmpty() || !kept.getLast().overlaps(s)) kept.add(s);
        }
        return kept;
    }

    /** {@code text} with each of the disjoint, sorted {@code spans} replaced by its placeholder. */
    public static String apply(String text, List<TextSpan> spans) {
        if (spans.isEmpty()) return text;
        StringBuilder out = new StringBuilder(text.length());
        int at = 0;
        for (TextSpan s : spans) {
            out.append(text, at, s.start()).append(s.replacement());
            at = s.end();
        }
        return out.append(text, at, text.length()).toString();
    }
}
