package dev.anvil.serving.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code tojson} and {@code items} filters as Hugging Face's chat-template environment has them: {@code tojson}
 * is Python's {@code json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...)} (separators
 * {@code ", "} and {@code ": "}, non-ASCII kept, keys in their order, no HTML escaping), where jinjava's writes compact
 * JSON; {@code items} gives a dict's (key, value) pairs.
 */
final class PythonJson {

    private PythonJson() {}

    static final class ToJson implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return filter(var, interpreter, (Object[]) args, Map.of());
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
            String itemSeparator = indent == null ? ", " : ",", keySeparator = ": ";
            if (kwargs.get("separators") instanceof List<?> separators && separators.size() == 2) {
                itemSeparator = String.valueOf(separators.get(0));
                keySeparator = String.valueOf(separators.get(1));
            }
            boolean sortKeys = Boolean.TRUE.equals(kwargs.get("sort_keys"));
            String pad = indent == null
                    ? null
                    : indent instanceof Number n ? " ".repeat(Math.min(64, n.intValue())) : indent.toString();
            RenderBudget budget = RenderBudget.current();
            int limit = budget == null ? Integer.MAX_VALUE : budget.limits().maxOutputChars();
            StringBuilder out = new StringBuilder();
            new Writer(out, itemSeparator, keySeparator, pad, sortKeys, limit).write(var, 0);
            return out.toString();
        }
    }

    private record Writer(StringBuilder out, String itemSep, String keySep, String pad, boolean sortKeys, int limit) {

        void write(Object value, int depth) {
            if (out.length() > limit) {
                throw new IllegalStateException("tojson output is longer than " + limit + " characters ("
                        + ChatTemplateLimits.MAX_OUTPUT_CHARS + ")");
            }
            if (value == null) out.append("null");
            else if (value instanceof Boolean b) out.append(b ? "true" : "false");
            else if (value instanceof Double || value instanceof Float)
                out.append(pythonFloat(((Number) value).doubleValue()));
            else if (value instanceof BigDecimal d) out.append(pythonFloat(d.doubleValue()));
            else if (value instanceof Number n) out.append(n);
            else if (value instanceof Map<?, ?> map) {
                if (map.isEmpty()) {
                    out.append("{}");
                    return;
                }
                Map<?, ?> entries = map;
                if (sortKeys) {
                    Map<String, Object> sorted = new TreeMap<>();
                    map.forEach((k, v) -> sorted.put(String.valueOf(k), v));
                    entries = sorted;
                }
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : entries.entrySet()) {
                    if (!first) out.append(itemSep);
                    first = false;
                    newline(depth + 1);
                    string(String.valueOf(e.getKey()));
                    out.append(keySep);
                    write(e.getValue(), depth + 1);
                }
                newline(depth);
                out.append('}');
            } else if (value instanceof Iterable<?> items) {
                List<Object> list = new ArrayList<>();
                items.forEach(list::add);
                if (list.isEmpty()) {
                    out.append("[]");
                    return;
                }
                out.append('[');
                for (int i = 0; i < list.size(); i++) {
                    if (i > 0) out.append(itemSep);
                    newline(depth + 1);
                    write(list.get(i), depth + 1);
                }
                newline(depth);
                out.append(']');
            } else if (value instanceof Object[] array) write(List.of(array), depth);
            else string(value.toString());
        }

        private void newline(int depth) {
            if (pad == null) return;
            out.append('\n');
            for (int i = 0; i < depth; i++) out.append(pad);
        }

        private void string(String s) {
            out.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    case '\b' -> out.append("\\b");
                    case '\f' -> out.append("\\f");
                    default -> {
                        if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                        else out.append(c);
                    }
                }
            }
            out.append('"');
        }
    }

    /** Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
    static String pythonFloat(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        if (d == Math.rint(d) && Math.abs(d) < 1e16) return (long) d + ".0";
        double abs = Math.abs(d);
        if (abs >= 1e-4 && abs < 1e16) return new BigDecimal(Double.toString(d)).toPlainString();
        String s = Double.toString(d); // 1.0E-5
        int e = s.indexOf('E');
        String mantissa = s.substring(0, e), exponent = s.substring(e + 1);
        if (mantissa.endsWith(".0")) mantissa = mantissa.substring(0, mantissa.length() - 2);
        int exp = Integer.parseInt(exponent);
        return mantissa + "e" + (exp < 0 ? "-" : "+") + String.format("%02d", Math.abs(exp));
    }

    /** {@code dict|items}: the (key, value) pairs, which {@code for key, value in ...} unpacks. */
    static final class Items implements Filter {
        @Override
        public String getName() {
            return "items";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            if (var instanceof Map<?, ?> map) return new ArrayList<>(map.entrySet());
            return var;
        }
    }
}
