package dev.anvil.guardrails;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;
import com.networknt.schema.regex.RegularExpression;
import com.networknt.schema.regex.RegularExpressionFactory;

/**
 * The regular expressions of a client's JSON Schema ({@code pattern}, {@code patternProperties}, {@code format:
 * regex}) compiled with RE2/J, which matches in time linear in the input. With the JDK's backtracking engine a
 * pattern like {@code ^(\w+\s?)*$} against a long model output that almost matches takes exponential time and pins
 * the thread; no timeout can interrupt a running {@code java.util.regex} match. The price: RE2 has no lookaround and
 * no backreferences; such a pattern is refused when the request is parsed ({@link UnsupportedPattern}).
 *
 * <p>Semantics are JSON Schema's: an unanchored search ({@code find}). ECMA-262 {@code \\uXXXX} escapes, which
 * RE2 spells {@code \\x{XXXX}}, are translated.
 */
final class LinearTimeRegex implements RegularExpressionFactory {

    static final LinearTimeRegex INSTANCE = new LinearTimeRegex();

    /** A pattern RE2 cannot run; the message says why. */
    static final class UnsupportedPattern extends IllegalArgumentException {
        final String pattern;

        UnsupportedPattern(String pattern, String reason) {
            super(reason);
            this.pattern = pattern;
        }
    }

    private LinearTimeRegex() {}

    @Override
    public RegularExpression getRegularExpression(String regex) {
        Pattern compiled;
        try {
            compiled = Pattern.compile(translate(regex));
        } catch (PatternSyntaxException e) {
            throw new UnsupportedPattern(regex, e.getDescription());
        }
        return value -> compiled.matcher(value).find();
    }

    /** ECMA-262 {@code \\uXXXX} to RE2's {@code \\x{XXXX}}; every other escape is copied as written. */
    static String translate(String regex) {
        StringBuilder out = new StringBuilder(regex.length());
        for (int i = 0; i < regex.length(); i++) {
            char c = regex.charAt(i);
            if (c == '\\' && i + 1 < regex.length()) {
                char next = regex.charAt(i + 1);
                if (next == 'u' && isHex(regex, i + 2, 4)) {
                    out.append("\\x{").append(regex, i + 2, i + 6).append('}');
                    i += 5;
                } else {
                    out.append(c).append(next);
                    i++;
                }
                continue;
            }
            out.append(c);
        }
        return out.toString();
    }

    private static boolean isHex(String s, int from, int count) {
        if (from + count > s.length()) return false;
        for (int i = from; i < from + count; i++) {
            if (Character.digit(s.charAt(i), 16) < 0) return false;
        }
        return true;
    }
}
