package dev.anvil.engine;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict, bounded JSON reader and a compact writer, for what the engine reads as JSON (schemas compiled to
 * grammars) without a library: objects are {@link LinkedHashMap}s (member order kept; a repeated name keeps the
 * last value, as most parsers do), arrays {@link List}s, numbers {@link BigDecimal}s, strings, booleans and
 * {@link #NULL}.
 */
public final class Json {

    /** The JSON null (maps and lists hold no Java null). */
    public static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    /** Deepest nesting of arrays and objects read. */
    public static final int MAX_DEPTH = 64;

    private final String s;
    private int pos;

    private Json(String s) {
        this.s = s;
    }

    /** Parses one JSON value (surrounding whitespace allowed); IllegalArgumentException on malformed input. */
    public static Object parse(String text) {
        Json p = new Json(text);
        p.space();
        Object v = p.value(0);
        p.space();
        if (p.pos != text.length()) throw p.error("unexpected text after the value");
        return v;
    }

    private Object value(int depth) {
        if (pos >= s.length()) throw error("unexpected end of input");
        char c = s.charAt(pos);
        switch (c) {
            case '{' -> {
                if (depth >= MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH);
                pos++;
                Map<String, Object> m = new LinkedHashMap<>();
                space();
                if (peek('}')) return m;
                do {
                    space();
                    if (pos >= s.length() || s.charAt(pos) != '"') throw error("expected a member name");
                    String k = string();
                    space();
                    expect(':');
                    space();
                    m.put(k, value(depth + 1));
                    space();
                } while (peek(','));
                expect('}');
                return m;
            }
            case '[' -> {
                if (depth >= MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH);
                pos++;
                List<Object> a = new ArrayList<>();
                space();
                if (peek(']')) return a;
                do {
                    space();
                    a.add(value(depth + 1));
                    space();
                } while (peek(','));
                expect(']');
                return a;
            }
            case '"' -> {
                return string();
            }
            case 't' -> {
                word("true");
                return Boolean.TRUE;
            }
            case 'f' -> {
                word("false");
                return Boolean.FALSE;
            }
            case 'n' -> {
                word("null");
                return NULL;
            }
            default -> {
                return number();
            }
        }
    }

    private Object number() {
        int start = pos;
        if (peek('-')) {}
        if (pos < s.length() && s.charAt(pos) == '0') pos++;
        else if (!digits()) throw error("unexpected character");
        if (peek('.') && !digits()) throw error("expected digits after '.'");
        if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
            pos++;
            if (!peek('+')) peek('-');
            if (!digits()) throw error("expected exponent digits");
        }
        if (pos - start > 400) throw error("number too long");
        return new BigDecimal(s.substring(start, pos));
    }

    private boolean digits() {
        int start = pos;
        while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') pos++;
        return pos > start;
    }

    private String string() {
        pos++;
        StringBuilder b = new StringBuilder();
        while (true) {
            if (pos >= s.length()) throw error("unterminated string");
            char c = s.charAt(pos++);
            if (c == '"') return b.toString();
            if (c < 0x20) throw error("control character in string");
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (pos >= s.length()) throw error("unterminated escape");
            char e = s.charAt(pos++);
            switch (e) {
                case '"', '\\', '/' -> b.append(e);
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'u' -> {
                    if (pos + 4 > s.length()) throw error("incomplete \\u escape");
                    int v = 0;
                    for (int i = 0; i < 4; i++) {
                        int d = Character.digit(s.charAt(pos++), 16);
                        if (d < 0) throw error("bad \\u escape");
                        v = v << 4 | d;
                    }
                    b.append((char) v);
                }
                default -> throw error("unknown escape '\\" + e + "'");
            }
        }
    }

    private void word(String w) {
        if (!s.startsWith(w, pos)) throw error("unexpected character");
        pos += w.length();
    }

    private boolean peek(char c) {
        if (pos < s.length() && s.charAt(pos) == c) {
            pos++;
            return true;
        }
        return false;
    }

    private void expect(char c) {
        if (!peek(c)) throw error("expected '" + c + "'");
    }

    private void space() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') pos++;
            else break;
        }
    }

    private IllegalArgumentException error(String message) {
        return new IllegalArgumentException("invalid JSON at offset " + pos + ": " + message);
    }

    /** Compact JSON text of a value read by {@link #parse} (or built of the same types). */
    public static String write(Object v) {
        StringBuilder b = new StringBuilder();
        write(v, b);
        return b.toString();
    }

    private static void write(Object v, StringBuilder b) {
        if (v == NULL || v == null) b.append("null");
        else if (v instanceof String str) quote(str, b);
        else if (v instanceof Map<?, ?> m) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) b.append(',');
                first = false;
                quote(String.valueOf(e.getKey()), b);
                b.append(':');
                write(e.getValue(), b);
            }
            b.append('}');
        } else if (v instanceof List<?> l) {
            b.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) b.append(',');
                write(l.get(i), b);
            }
            b.append(']');
        } else b.append(v); // Boolean, BigDecimal, other numbers
    }

    /** {@code text} as a JSON string literal. */
    public static String quote(String text) {
        StringBuilder b = new StringBuilder(text.length() + 2);
        quote(text, b);
        return b.toString();
    }

    private static void quote(String text, StringBuilder b) {
        b.append('"');
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        b.append('"');
    }
}
