package dev.anvil.engine.cli;

/** The little JSON the CLI prints, written by hand to keep the engine free of dependencies. */
final class Json {

    private final StringBuilder sb = new StringBuilder();
    private boolean needComma;

    Json beginObject() {
        comma();
        sb.append('{');
        needComma = false;
        return this;
    }

    Json endObject() {
        sb.append('}');
        needComma = true;
        return this;
    }

    Json beginArray() {
        comma();
        sb.append('[');
        needComma = false;
        return this;
    }

    Json endArray() {
        sb.append(']');
        needComma = true;
        return this;
    }

    Json name(String name) {
        comma();
        quote(name);
        sb.append(':');
        needComma = false;
        return this;
    }

    Json value(String s) {
        comma();
        quote(s);
        needComma = true;
        return this;
    }

    Json value(long n) {
        comma();
        sb.append(n);
        needComma = true;
        return this;
    }

    Json value(double d) {
        comma();
        if (Double.isNaN(d)) sb.append("null");
        else if (Double.isInfinite(d)) sb.append(d > 0 ? "1e308" : "-1e308"); // JSON has no infinities
        else sb.append(d);
        needComma = true;
        return this;
    }

    Json value(int[] ids) {
        beginArray();
        for (int id : ids) value(id);
        return endArray();
    }

    private void comma() {
        if (needComma) sb.append(',');
    }

    private void quote(String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    // Control characters and lone surrogates must be escaped to stay valid JSON/UTF-8.
                    if (c < 0x20 || (Character.isSurrogate(c) && !validPair(s, i)))
                        sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    private static boolean validPair(String s, int i) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c)) return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
        return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }

    @Override
    public String toString() {
        return sb.toString();
    }
}
