package dev.anvil.guardrails;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds a policy's blocked terms in text: case-insensitive, and at word boundaries where a term begins or ends with
 * a letter or digit (so "ass" does not match "class"). Terms are literal text, never patterns.
 */
public final class BlockedTermMatcher {

    public static final String KIND = "blocked_term";
    private static final BlockedTermMatcher EMPTY = new BlockedTermMatcher(List.of(), null, 0);

    private final List<String> terms;
    private final Pattern pattern;
    private final int longest;

    private BlockedTermMatcher(List<String> terms, Pattern pattern, int longest) {
        this.terms = terms;
        this.pattern = pattern;
        this.longest = longest;
    }

    public static BlockedTermMatcher of(List<String> terms) {
        List<String> cleaned = new ArrayList<>();
        for (String t : terms) {
            if (t != null && !t.isBlank()) cleaned.add(t.trim());
        }
        if (cleaned.isEmpty()) return EMPTY;
        // Longest first so that the alternation prefers "bad word" over "bad".
        cleaned.sort(Comparator.comparingInt(String::length).reversed());
        StringBuilder regex = new StringBuilder();
        int longest = 0;
        for (String t : cleaned) {
            if (!regex.isEmpty()) regex.append('|');
            if (Character.isLetterOrDigit(t.charAt(0))) regex.append("(?<![\\p{L}\\p{N}])");
            regex.append(Pattern.quote(t));
            if (Character.isLetterOrDigit(t.charAt(t.length() - 1))) regex.append("(?![\\p{L}\\p{N}])");
            longest = Math.max(longest, t.length());
        }
        return new BlockedTermMatcher(
                List.copyOf(cleaned),
                Pattern.compile(regex.toString(), Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE),
                longest);
    }

    public boolean isEmpty() {
        return terms.isEmpty();
    }

    /** The longest term, in characters (0 without terms): bounds a match for stream scanning. */
    public int longestTerm() {
        return longest;
    }

    /** The blocked terms in {@code text}, sorted and disjoint; each redacts to {@code [BLOCKED]}. */
    public List<TextSpan> find(String text) {
        if (pattern == null || text == null || text.isEmpty()) return List.of();
        List<TextSpan> spans = new ArrayList<>();
        Matcher m = pattern.matcher(text);
        while (m.find()) spans.add(new TextSpan(KIND, m.start(), m.end(), "[BLOCKED]"));
        return Redaction.disjoint(spans);
    }

    @Override
    public String toString() {
        return terms.size() + " blocked terms: "
                + String.join(
                        ", ",
                        terms.stream().map(t -> t.toLowerCase(Locale.ROOT)).toList());
    }
}
