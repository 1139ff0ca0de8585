package dev.anvil.serving.chat;

import com.hubspot.jinjava.objects.collections.PyList;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import jinjava.javax.el.MethodNotFoundException;

/**
 * The methods a chat template may call on a string: Python's {@code str} methods that Hugging Face templates use
 * ({@code content.strip()}, {@code content.split('</think>')[-1]}, {@code role.startswith('tool')}...), with Python
 * semantics. Jinjava alone would run {@code java.lang.String}'s methods instead, which differ ({@code split} takes a
 * regular expression, so a template could run a backtracking pattern over user text that no time limit can stop)
 * or amplify memory in one call ({@code repeat}, {@code indent}, {@code format}); those are not reachable. Methods
 * whose result can grow check its size against the render's budget before building it.
 */
final class PythonStrings {

    static final Set<String> METHODS = new TreeSet<>(List.of(
            "capitalize",
            "count",
            "endswith",
            "find",
            "isalnum",
            "isalpha",
            "isdigit",
            "islower",
            "isspace",
            "isupper",
            "join",
            "lower",
            "lstrip",
            "removeprefix",
            "removesuffix",
            "replace",
            "rfind",
            "rsplit",
            "rstrip",
            "split",
            "splitlines",
            "startswith",
            "strip",
            "title",
            "upper"));

    private PythonStrings() {}

    /** Calls Python's {@code s.name(args...)}. */
    static Object invoke(String s, String name, Object[] args, RenderBudget budget) {
        Object[] a = args == null ? new Object[0] : args;
        return switch (name) {
            case "strip" -> strip(s, chars(a, 0), true, true);
            case "lstrip" -> strip(s, chars(a, 0), true, false);
            case "rstrip" -> strip(s, chars(a, 0), false, true);
            case "split" -> split(s, text(a, 0, null), integer(a, 1, -1), false);
            case "rsplit" -> split(s, text(a, 0, null), integer(a, 1, -1), true);
            case "splitlines" -> new PyList(new ArrayList<>(s.lines().toList()));
            case "startswith" -> affix(s, arg(a, 0), true);
            case "endswith" -> affix(s, arg(a, 0), false);
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" ->
                s.isEmpty()
                        ? s
                        : s.substring(0, 1).toUpperCase(Locale.ROOT)
                                + s.substring(1).toLowerCase(Locale.ROOT);
            case "replace" -> replace(s, text(a, 0, ""), text(a, 1, ""), integer(a, 2, -1), budget);
            case "find" -> (long) s.indexOf(text(a, 0, ""));
            case "rfind" -> (long) s.lastIndexOf(text(a, 0, ""));
            case "count" -> (long) count(s, text(a, 0, ""));
            case "join" -> join(s, arg(a, 0), budget);
            case "removeprefix" ->
                s.startsWith(text(a, 0, "")) ? s.substring(text(a, 0, "").length()) : s;
            case "removesuffix" -> {
                String suffix = text(a, 0, "");
                yield !suffix.isEmpty() && s.endsWith(suffix) ? s.substring(0, s.length() - suffix.length()) : s;
            }
            case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.chars().allMatch(Character::isLetterOrDigit);
            case "isspace" -> !s.isEmpty() && s.chars().allMatch(PythonStrings::isSpace);
            case "islower" -> s.chars().anyMatch(Character::isLetter) && s.equals(s.toLowerCase(Locale.ROOT));
            case "isupper" -> s.chars().anyMatch(Character::isLetter) && s.equals(s.toUpperCase(Locale.ROOT));
            default ->
                throw new MethodNotFoundException("strings in chat templates have no method '" + name
                        + "' (available: the Python str methods " + String.join(", ", METHODS) + ")");
        };
    }

    private static Object arg(Object[] a, int i) {
        return i < a.length ? a[i] : null;
    }

    private static String text(Object[] a, int i, String fallback) {
        Object v = arg(a, i);
        return v == null ? fallback : v.toString();
    }

    private static String chars(Object[] a, int i) {
        return text(a, i, null);
    }

    private static int integer(Object[] a, int i, int fallback) {
        Object v = arg(a, i);
        if (v == null) return fallback;
        if (v instanceof Number n) return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, n.longValue()));
        try {
            return Integer.parseInt(v.toString().strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("expected an integer, got '" + v + "'");
        }
    }

    /** Python's str.isspace per character: whitespace and separator characters. */
    private static boolean isSpace(int c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c);
    }

    private static String strip(String s, String chars, boolean left, boolean right) {
        int start = 0, end = s.length();
        while (left && start < end && stripped(s.charAt(start), chars)) start++;
        while (right && end > start && stripped(s.charAt(end - 1), chars)) end--;
        return s.substring(start, end);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
    }

    /** Python's split/rsplit: a literal separator (keeping empty parts), or runs of whitespace when none is given. */
    private static PyList split(String s, String sep, int maxSplit, boolean fromRight) {
        if (sep != null && sep.isEmpty()) throw new IllegalArgumentException("empty separator");
        List<Object> parts = new ArrayList<>();
        int limit = maxSplit < 0 ? Integer.MAX_VALUE : maxSplit;
        if (sep == null) {
            String rest = fromRight ? s.stripTrailing() : s.stripLeading();
            while (!rest.isEmpty() && parts.size() < limit) {
                int cut = fromRight ? lastSpace(rest) : firstSpace(rest);
                if (cut < 0) break;
                if (fromRight) {
                    parts.addFirst(rest.substring(cut + 1));
                    rest = rest.substring(0, cut).stripTrailing();
                } else {
                    parts.add(rest.substring(0, cut));
                    rest = rest.substring(cut + 1).stripLeading();
                }
            }
            if (!rest.isEmpty()) {
                if (fromRight) parts.addFirst(rest);
                else parts.add(rest);
            }
            return new PyList(parts);
        }
        if (fromRight) {
            int end = s.length();
            for (int at; parts.size() < limit && (at = s.lastIndexOf(sep, end - sep.length())) >= 0; ) {
                parts.addFirst(s.substring(at + sep.length(), end));
                end = at;
            }
            parts.addFirst(s.substring(0, end));
        } else {
            int start = 0;
            for (int at; parts.size() < limit && (at = s.indexOf(sep, start)) >= 0; ) {
                parts.add(s.substring(start, at));
                start = at + sep.length();
            }
            parts.add(s.substring(start));
        }
        return new PyList(parts);
    }

    private static int firstSpace(String s) {
        for (int i = 0; i < s.length(); i++) if (isSpace(s.charAt(i))) return i;
        return -1;
    }

    private static int lastSpace(String s) {
        for (int i = s.length() - 1; i >= 0; i--) if (isSpace(s.charAt(i))) return i;
        return -1;
    }

    private static boolean affix(String s, Object affix, boolean prefix) {
        if (affix instanceof Collection<?> options) { // Python accepts a tuple of prefixes
            for (Object o : options) if (affix(s, o, prefix)) return true;
            return false;
        }
        String a = affix == null ? "" : affix.toString();
        return prefix ? s.startsWith(a) : s.endsWith(a);
    }

    private static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            out.append(previousCased ? Character.toLowerCase(c) : Character.toTitleCase(c));
            previousCased = Character.isLetter(c);
        }
        return out.toString();
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) return s.length() + 1;
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
        return n;
    }

    /** The result's length is known before it is built, so an amplifying replacement fails without allocating it. */
    private static String replace(String s, String old, String replacement, int maxCount, RenderBudget budget) {
        int occurrences = old.isEmpty() ? s.length() + 1 : count(s, old);
        if (maxCount >= 0) occurrences = Math.min(occurrences, maxCount);
        long length = s.length() + (long) occurrences * (replacement.length() - old.length());
        if (budget != null) budget.checkString((int) Math.min(Integer.MAX_VALUE, length), "the result of str.replace");
        if (old.isEmpty()) {
            StringBuilder out = new StringBuilder((int) length);
            for (int i = 0; i <= s.length(); i++) {
                if (i < occurrences) out.append(replacement);
                if (i < s.length()) out.append(s.charAt(i));
            }
            return out.toString();
        }
        if (maxCount < 0) return s.replace(old, replacement);
        StringBuilder out = new StringBuilder((int) length);
        int start = 0;
        for (int done = 0, at; done < occurrences && (at = s.indexOf(old, start)) >= 0; done++) {
            out.append(s, start, at).append(replacement);
            start = at + old.length();
        }
        return out.append(s, start, s.length()).toString();
    }

    private static String join(String separator, Object iterable, RenderBudget budget) {
        List<String> parts = new ArrayList<>();
        long length = 0;
        if (iterable instanceof Iterable<?> items) {
            for (Object item : items) {
                String part = String.valueOf(item);
                parts.add(part);
                length += part.length() + (parts.size() > 1 ? separator.length() : 0);
                if (budget != null)
                    budget.checkString((int) Math.min(Integer.MAX_VALUE, length), "the result of str.join");
            }
        } else if (iterable instanceof CharSequence chars) {
            for (int i = 0; i < chars.length(); i++) parts.add(String.valueOf(chars.charAt(i)));
            length = chars.length() + (long) Math.max(0, chars.length() - 1) * separator.length();
            if (budget != null) budget.checkString((int) Math.min(Integer.MAX_VALUE, length), "the result of str.join");
        } else {
            throw new IllegalArgumentException("join needs a list of strings");
        }
        return String.join(separator, parts);
    }
}
