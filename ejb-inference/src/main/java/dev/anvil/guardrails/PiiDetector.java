package dev.anvil.guardrails;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds personal data in text: email addresses, phone numbers (with an area or country code: 9 to 15 digits in
 * groups) and payment card numbers (13 to 19 digits, optionally grouped by spaces or dashes, that pass the Luhn
 * check). Every pattern has a bounded length ({@link #MAX_MATCH_CHARS}), which is what lets a stream be scanned
 * exactly while holding back only a small window of text (see {@link StreamingTextGuard}).
 *
 * <p>Deliberately conservative on numbers: dates, versions, IP addresses, ISBN-like dash groups and
 * thousands-separated amounts are not phone numbers; a digit run is a card only if the Luhn checksum holds.
 */
public final class PiiDetector {

    /** Upper bound of the length of any match (email: 40 + 1 + 3 × 21 + 10 characters). */
    public static final int MAX_MATCH_CHARS = 120;

    public static final String EMAIL = "email";
    public static final String PHONE = "phone";
    public static final String CARD = "card";

    private static final Pattern EMAIL_PATTERN = Pattern.compile(
            "(?<![A-Za-z0-9._%+@-])[A-Za-z0-9._%+-]{1,40}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,18}[A-Za-z0-9])?\\.){1,3}"
                    + "[A-Za-z]{2,10}(?![A-Za-z0-9-])");
    // Groups separated by space, dot or dash; not preceded by a word character, '+', '.', or a digit and a
    // separator (which would make it the tail of a longer number), and not followed by more of the number.
    private static final Pattern PHONE_PATTERN = Pattern.compile(
            "(?<![\\w+.]|\\d[ .-])(?:\\+\\d{1,3}[ .-]?)?(?:\\(\\d{2,4}\\)[ .-]?|\\d{2,4}[ .-])\\d{3,4}[ .-]?\\d{3,4}"
                    + "(?!\\w|[ .-]\\d)");
    private static final Pattern CARD_PATTERN = Pattern.compile("(?<![\\w.-])\\d(?:[ -]?\\d){12,18}(?!\\w|[ -]?\\d)");

    private PiiDetector() {}

    /** The personal data in {@code text}, sorted and disjoint. */
    public static List<TextSpan> find(String text) {
        if (text == null || text.isEmpty()) return List.of();
        List<TextSpan> spans = new ArrayList<>();
        Matcher m = EMAIL_PATTERN.matcher(text);
        while (m.find()) spans.add(new TextSpan(EMAIL, m.start(), m.end(), "[EMAIL]"));
        m = CARD_PATTERN.matcher(text);
        while (m.find()) {
            if (luhn(digits(m.group()))) spans.add(new TextSpan(CARD, m.start(), m.end(), "[CARD]"));
        }
        m = PHONE_PATTERN.matcher(text);
        while (m.find()) {
            int count = digits(m.group()).length();
            if (count >= 9 && count <= 15) spans.add(new TextSpan(PHONE, m.start(), m.end(), "[PHONE]"));
        }
        return Redaction.disjoint(spans);
    }

    /** {@code text} with its personal data replaced by {@code [EMAIL]}, {@code [PHONE]}, {@code [CARD]}. */
    public static String redact(String text) {
        return Redaction.apply(text, find(text));
    }

    /** The Luhn (mod 10) checksum of a digit string, as used by payment card numbers. */
    public static boolean luhn(String digits) {
        if (digits.length() < 2) return false;
        int sum = 0;
        boolean twice = false;
        for (int i = digits.length() - 1; i >= 0; i--) {
            int d = digits.charAt(i) - '0';
            if (d < 0 || d > 9) return false;
            if (twice) {
                d *= 2;
                if (d > 9) d -= 9;
            }
            sum += d;
            twice = !twice;
        }
        return sum % 10 == 0;
    }

    private static String digits(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= '0' && c <= '9') b.append(c);
        }
        return b.toString();
    }
}
