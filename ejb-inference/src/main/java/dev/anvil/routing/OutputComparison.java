package dev.anvil.routing;

import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * How a shadow's output compares with the control's: exact agreement after normalising whitespace and case, and
 * the Jaccard similarity of their word sets (1 = same words, 0 = none in common; two empty outputs agree fully).
 */
public final class OutputComparison {

    private OutputComparison() {}

    public static boolean agree(String control, String shadow) {
        return normalise(control).equals(normalise(shadow));
    }

    public static double similarity(String control, String shadow) {
        Set<String> a = words(control);
        Set<String> b = words(shadow);
        if (a.isEmpty() && b.isEmpty()) return 1.0;
        Set<String> union = new HashSet<>(a);
        union.addAll(b);
        a.retainAll(b);
        return (double) a.size() / union.size();
    }

    static String normalise(String text) {
        return text == null ? "" : text.strip().replaceAll("\\s+", " ").toLowerCase(Locale.ROOT);
    }

    private static Set<String> words(String text) {
        Set<String> words = new HashSet<>();
        for (String w : normalise(text).split("[^\\p{L}\\p{N}']+")) if (!w.isEmpty()) words.add(w);
        return words;
    }
}
