package dev.anvil.routing;

import java.util.Locale;

/**
 * The complexity signal of a prompt, a score in [0, 1] from cheap, documented heuristics (no model runs): how
 * much a small model is likely to struggle with it. Each signal adds a bounded share:
 *
 * <ul>
 *   <li><b>length</b>: up to 0.3, linear in the words up to 400;</li>
 *   <li><b>reasoning words</b> ("why", "explain", "prove", "derive", "analyze", "compare", "step by step",
 *       "trade-off", ...): 0.1 each, up to 0.3;</li>
 *   <li><b>code</b>: 0.2 for a code fence or two or more of {@code {} ; () => ==} lines;</li>
 *   <li><b>math</b>: 0.1 when digits and operators ({@code + - * / ^ =}) make up over 5 % of the characters;</li>
 *   <li><b>several questions</b>: 0.1 for more than one question mark.</li>
 * </ul>
 *
 * Only the first {@value #MAX_CHARS} characters are read, so the cost is bounded whatever the prompt.
 */
public final class Complexity {

    static final int MAX_CHARS = 20_000;
    private static final String[] REASONING = {
        "why",
        "explain",
        "prove",
        "derive",
        "analyze",
        "analyse",
        "compare",
        "step by step",
        "trade-off",
        "tradeoff",
        "evaluate",
        "justify",
        "reason",
        "design",
        "optimize",
        "optimise"
    };

    private Complexity() {}

    public static double score(String text) {
        if (text == null || text.isEmpty()) return 0;
        String t = text.length() > MAX_CHARS ? text.substring(0, MAX_CHARS) : text;
        String lower = t.toLowerCase(Locale.ROOT);
        double score = 0.3 * Math.min(1.0, words(t) / 400.0);
        int reasoning = 0;
        for (String w : REASONING) {
            if (containsWord(lower, w)) reasoning++;
        }
        score += Math.min(0.3, 0.1 * reasoning);
        if (looksLikeCode(t)) score += 0.2;
        int mathChars = 0;
        int questions = 0;
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (Character.isDigit(c) || "+-*/^=".indexOf(c) >= 0) mathChars++;
            if (c == '?') questions++;
        }
        if (mathChars > 0.05 * t.length()) score += 0.1;
        if (questions > 1) score += 0.1;
        return Math.min(1.0, score);
    }

    static int words(String t) {
        int n = 0;
        boolean in = false;
        for (int i = 0; i < t.length(); i++) {
            boolean letter = !Character.isWhitespace(t.charAt(i));
            if (letter && !in) n++;
            in = letter;
        }
        return n;
    }

    /** {@code word} as a whole word (or phrase) of {@code lower}. */
    private static boolean containsWord(String lower, String word) {
        for (int at = lower.indexOf(word); at >= 0; at = lower.indexOf(word, at + 1)) {
            boolean startOk = at == 0 || !Character.isLetter(lower.charAt(at - 1));
            int end = at + word.length();
            boolean endOk = end == lower.length() || !Character.isLetter(lower.charAt(end));
            if (startOk && endOk) return true;
        }
        return false;
    }

    private static boolean looksLikeCode(String t) {
        if (t.contains("```")) return true;
        int lines = 0;
        for (String line : t.split("\n", 200)) {
            String s = line.strip();
            if (s.endsWith(";")
                    || s.endsWith("{")
                    || s.endsWith("}")
                    || s.contains("=>")
                    || s.contains("==")
                    || looksLikeCall(s)) {
                lines++;
            }
        }
        return lines >= 2;
    }

    /**
     * Whether {@code s} holds a word character directly followed by {@code (} with a {@code )} somewhere after it (a
     * call such as {@code f(x)}), in one pass: the regular expression it replaces backtracked over every candidate
     * parenthesis, quadratic in a caller's long line.
     */
    static boolean looksLikeCall(String s) {
        for (int i = 1; i < s.length(); i++) {
            if (s.charAt(i) != '(') continue;
            char before = s.charAt(i - 1);
            boolean word = (before >= 'a' && before <= 'z')
                    || (before >= 'A' && before <= 'Z')
                    || (before >= '0' && before <= '9')
                    || before == '_';
            // The first such parenthesis leaves the most room for a closing one after it.
            if (word) return s.indexOf(')', i + 1) >= 0;
        }
        return false;
    }
}
