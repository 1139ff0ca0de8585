package dev.anvil.guardrails;

/**
 * A finding in a text: {@code [start, end)} and the placeholder that replaces it when redacted.
 *
 * @param kind        what was found, e.g. {@code email}, {@code phone}, {@code card}, {@code blocked_term}
 * @param replacement the text that replaces the span, e.g. {@code [EMAIL]}
 */
public record TextSpan(String kind, int start, int end, String replacement) {

    public TextSpan {
        if (start < 0 || end <= start) throw new IllegalArgumentException("bad span [" + start + ", " + end + ")");
    }

    boolean overlaps(TextSpan other) {
        return start < other.end && other.start < end;
    }
}
