package dev.anvil.engine.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code --name value} / {@code --flag} command-line options of one sub-command. Every option must be one the
 * command declares; values are checked and converted on access, each failure naming the option.
 */
final class CliArgs {

    /** Wrong usage: the CLI prints the message and the command's usage, and exits with status 2. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }

    private final Map<String, List<String>> values = new LinkedHashMap<>();
    private final Set<String> flags;

    /**
     * @param valued   options that take a value (may repeat only if listed in {@code repeatable})
     * @param flags    options without a value
     */
    CliArgs(String[] args, Set<String> valued, Set<String> repeatable, Set<String> flags) {
        this.flags = flags;
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) throw new UsageException("unexpected argument '" + a + "'");
            String name = a.substring(2);
            String inline = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                inline = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (flags.contains(name)) {
                if (inline != null) throw new UsageException("option --" + name + " takes no value");
                values.computeIfAbsent(name, k -> new ArrayList<>()).add("true");
            } else if (valued.contains(name) || repeatable.contains(name)) {
                String v;
                if (inline != null) {
                    v = inline;
                } else {
                    if (i + 1 >= args.length) throw new UsageException("option --" + name + " needs a value");
                    v = args[++i];
                }
                if (seen.merge(name, 1, Integer::sum) > 1 && !repeatable.contains(name)) {
                    throw new UsageException("option --" + name + " given more than once");
                }
                values.computeIfAbsent(name, k -> new ArrayList<>()).add(v);
            } else {
                throw new UsageException("unknown option --" + name);
            }
        }
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    boolean flag(String name) {
        if (!flags.contains(name)) throw new IllegalArgumentException(name + " is not a flag");
        return values.containsKey(name);
    }

    String string(String name, String fallback) {
        List<String> v = values.get(name);
        return v == null ? fallback : v.getFirst();
    }

    String required(String name) {
        String v = string(name, null);
        if (v == null) throw new UsageException("missing required option --" + name);
        return v;
    }

    List<String> all(String name) {
        return values.getOrDefault(name, List.of());
    }

    int integer(String name, int fallback, int min, int max) {
        String v = string(name, null);
        if (v == null) return fallback;
        int n;
        try {
            n = Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("option --" + name + " needs an integer, got '" + v + "'");
        }
        if (n < min || n > max)
            throw new UsageException("option --" + name + " must be between " + min + " and " + max + ", got " + n);
        return n;
    }

    long longValue(String name, long fallback) {
        String v = string(name, null);
        if (v == null) return fallback;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("option --" + name + " needs an integer, got '" + v + "'");
        }
    }

    float number(String name, float fallback, float min, float max) {
        String v = string(name, null);
        if (v == null) return fallback;
        float f;
        try {
            f = Float.parseFloat(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("option --" + name + " needs a number, got '" + v + "'");
        }
        if (!(f >= min && f <= max))
            throw new UsageException("option --" + name + " must be between " + min + " and " + max + ", got " + v);
        return f;
    }
}
