package dev.anvil.engine;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * JSON as GBNF: the grammar of any JSON object ({@link #JSON_OBJECT}, OpenAI's {@code json_object}), and a compiler
 * from JSON Schema to a grammar whose every sentence validates against the schema ({@code json_schema}).
 *
 * <p>A grammar may allow fewer documents than the schema (never more): properties come in the schema's order,
 * optional ones may be left out; with properties declared, other members appear only when
 * {@code additionalProperties} says so (as llama.cpp's converter does), and never under a declared name; bounded
 * numbers are written as integers; a {@code pattern} is generated fully anchored. Whitespace between tokens is
 * bounded (one space, or a newline and up to 16 spaces or tabs), numbers have at most 16 integer and 15 fraction
 * digits, so a small model cannot run on forever inside one value. What cannot be compiled is refused with a
 * {@link SchemaException} naming the keyword and where it is.
 *
 * <p>Supported: {@code type} (also arrays of types), {@code properties}, {@code required},
 * {@code additionalProperties} (boolean or schema), {@code enum}, {@code const}, {@code items},
 * {@code minItems}/{@code maxItems}, {@code anyOf}/{@code oneOf} (alternatives: oneOf's branches should be
 * disjoint, as the grammar does not check that a value matches only one), {@code allOf} of one schema, {@code $ref}
 * to {@code #}, {@code #/$defs/...} and {@code #/definitions/...} (recursion allowed, bounded at run time by the
 * matcher's depth), {@code minLength}/{@code maxLength}, {@code pattern} (a regular-expression subset: literals,
 * {@code .}, classes, {@code \d \w \s}, groups, {@code |}, {@code * + ? {m,n}}, {@code ^} and {@code $} at the ends),
 * {@code format} date, time, date-time, uuid and email, {@code minimum}/{@code maximum}/{@code exclusiveMinimum}/
 * {@code exclusiveMaximum} for integers and numbers, and the annotations (title, description, default, examples,
 * ...). Everything else is refused.
 */
public final class JsonSchemaGrammar {

    /** A schema the compiler refuses. {@link #keyword()} is the keyword, {@link #pointer()} where (JSON Pointer). */
    public static final class SchemaException extends IllegalArgumentException {
        private final String keyword, pointer;

        SchemaException(String keyword, String pointer, String message) {
            super(message + (pointer.isEmpty() ? "" : " (at " + pointer + ")"));
            this.keyword = keyword;
            this.pointer = pointer;
        }

        public String keyword() {
            return keyword;
        }

        public String pointer() {
            return pointer;
        }
    }

    /** Whitespace between JSON tokens: bounded, so that a model cannot emit spaces forever. */
    static final String WS = "( \" \" | \"\\n\" [ \\t]{0,16} )?";

    /** Any JSON object, as GBNF: OpenAI's {@code json_object}. The generation ends with the closing brace. */
    public static final String JSON_OBJECT = "root ::= object\n" + primitives("");

    private static final Set<String> ANNOTATIONS = Set.of(
            "title",
            "description",
            "$schema",
            "$id",
            "$comment",
            "examples",
            "default",
            "readOnly",
            "writeOnly",
            "deprecated",
            "$defs",
            "definitions",
            "strict");

    private static final Set<String> SUPPORTED = Set.of(
            "type",
            "properties",
            "required",
            "additionalProperties",
            "enum",
            "const",
            "items",
            "minItems",
            "maxItems",
            "uniqueItems",
            "anyOf",
            "oneOf",
            "allOf",
            "$ref",
            "minLength",
            "maxLength",
            "pattern",
            "format",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum");

    private static final Set<String> TYPES =
            Set.of("null", "boolean", "integer", "number", "string", "array", "object");

    /** Largest count in minLength, maxLength, minItems, maxItems (a repetition in the grammar). */
    public static final int MAX_COUNT = 2048;

    private static final long MAX_INTEGER = 9_999_999_999_999_999L; // 16 digits, the integer grammar's bound

    private static volatile Grammar jsonObject;

    private JsonSchemaGrammar() {}

    /** The compiled {@link #JSON_OBJECT} grammar (compiled once; its token masks are cached across requests). */
    public static Grammar jsonObject() {
        Grammar g = jsonObject;
        if (g == null) jsonObject = g = Grammar.parse(JSON_OBJECT);
        return g;
    }

    /** The GBNF of a schema (JSON text), with its start rule {@code root}. */
    public static String gbnf(String schemaJson) {
        Object schema;
        try {
            schema = Json.parse(schemaJson);
        } catch (IllegalArgumentException e) {
            throw new SchemaException("", "", "the schema is not valid JSON: " + e.getMessage());
        }
        return rules(schema, "root");
    }

    /**
     * The GBNF rules of a schema (as {@link Json#parse} reads it) whose start rule is {@code name}; every other rule
     * it defines is named {@code name-...}, so the rules of several schemas can be pasted into one grammar and
     * referenced from rules of the caller's (see docs/grammar composition in the engine's notes).
     */
    public static String rules(Object schema, String name) {
        if (name == null || !name.matches("[A-Za-z0-9_-]{1,64}"))
            throw new IllegalArgumentException("rule name must be 1-64 of [A-Za-z0-9_-]: " + name);
        Compiler c = new Compiler(schema, name);
        String start = c.visit(schema, "");
        c.rules.put(name, start);
        StringBuilder out = new StringBuilder();
        out.append(name).append(" ::= ").append(c.rules.remove(name)).append('\n');
        for (Map.Entry<String, String> e : c.rules.entrySet())
            out.append(e.getKey()).append(" ::= ").append(e.getValue()).append('\n');
        return out.append(primitives(name + "-")).toString();
    }

    /** Compiles a schema straight to a grammar. */
    public static Grammar compile(String schemaJson, Grammar.Limits limits) {
        return Grammar.parse(gbnf(schemaJson), limits);
    }

    /** {@code text} as a GBNF literal matching exactly that text. */
    public static String literal(String text) {
        StringBuilder b = new StringBuilder("\"");
        text.codePoints().forEach(cp -> b.append(escape(cp, false)));
        return b.append('"').toString();
    }

    private static String escape(int cp, boolean inClass) {
        if (cp == '"' && !inClass) return "\\\"";
        if (cp == '\\') return "\\\\";
        if (inClass && (cp == ']' || cp == '-' || cp == '^' || cp == '[')) return "\\" + (char) cp;
        if (cp == '\n') return "\\n";
        if (cp == '\t') return "\\t";
        if (cp == '\r') return "\\r";
        if (cp < 0x20 || cp == 0x7F) return String.format("\\x%02X", cp);
        return new String(Character.toChars(cp));
    }

    /** The shared rules (prefixed): value, object, array, string, number, integer, ws. */
    private static String primitives(String p) {
        return p + "value ::= " + p + "object | " + p + "array | " + p + "string | " + p
                + "number | \"true\" | \"false\""
                + " | \"null\"\n"
                + p + "object ::= \"{\" " + p + "ws ( " + p + "pair ( \",\" " + p + "ws " + p + "pair )* )? \"}\"\n"
                + p + "pair ::= " + p + "string " + p + "ws \":\" " + p + "ws " + p + "value " + p + "ws\n"
                + p + "array ::= \"[\" " + p + "ws ( " + p + "value " + p + "ws ( \",\" " + p + "ws " + p + "value "
                + p + "ws )* )? \"]\"\n"
                + p + "string ::= \"\\\"\" " + p + "char* \"\\\"\"\n"
                // Any character but quote, backslash and controls; or an escape (no UTF-16 surrogate halves, so a
                // string's length in the grammar is its length in code points).
                + p
                + "char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" ( [0-9a-cA-CeEfF] [0-9a-fA-F]{3}"
                + " | [dD] [0-7] [0-9a-fA-F]{2} ) )\n"
                + p + "number ::= " + p + "integer ( \".\" [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,2} )?\n"
                + p + "integer ::= \"-\"? ( \"0\" | [1-9] [0-9]{0,15} )\n"
                + p + "ws ::= " + WS + "\n";
    }

    // ------------------------------------------------------------------------------------------------

    private static final class Compiler {
        private final Object root;
        private final String p;
        final Map<String, String> rules = new LinkedHashMap<>();
        private final Map<String, String> refRules = new TreeMap<>();
        private int counter;
        private int depth;

        Compiler(Object root, String name) {
            this.root = root;
            this.p = name + "-";
        }

        private String prim(String n) {
            return p + n;
        }

        private String newRule(String hint, String body) {
            String name = p + hint.replaceAll("[^A-Za-z0-9]+", "-").replaceAll("^-|-$", "") + "-" + counter++;
            if (name.length() > 80) name = p + "r-" + (counter - 1);
            rules.put(name, body);
            return name;
        }

        /** A GBNF expression for values valid under {@code schema}. */
        String visit(Object schema, String at) {
            if (++depth > 64) throw new SchemaException("", at, "the schema is nested deeper than 64");
            try {
                return visitNode(schema, at);
            } finally {
                depth--;
            }
        }

        private String visitNode(Object schema, String at) {
            if (schema == Boolean.TRUE) return prim("value");
            if (schema == Boolean.FALSE) throw new SchemaException("false", at, "schema 'false' allows no value");
            if (!(schema instanceof Map<?, ?> raw))
                throw new SchemaException("", at, "a schema must be an object or a boolean");
            @SuppressWarnings("unchecked")
            Map<String, Object> s = (Map<String, Object>) raw;
            for (String k : s.keySet())
                if (!SUPPORTED.contains(k) && !ANNOTATIONS.contains(k))
                    throw new SchemaException(k, at, "keyword '" + k + "' is not supported");
            Map<String, Object> keys = new LinkedHashMap<>(s);
            keys.keySet().removeAll(ANNOTATIONS);

            if (keys.containsKey("$ref")) {
                only(keys, at, "$ref");
                return ref(s.get("$ref"), at);
            }
            for (String comb : List.of("anyOf", "oneOf", "allOf")) {
                if (!keys.containsKey(comb)) continue;
                only(keys, at, comb);
                List<?> branches = list(s.get(comb), comb, at);
                if (branches.isEmpty()) throw new SchemaException(comb, at, "'" + comb + "' is empty");
                if (comb.equals("allOf")) {
                    if (branches.size() != 1)
                        throw new SchemaException(comb, at, "keyword 'allOf' is supported with one schema only");
                    return visit(branches.getFirst(), at + "/allOf/0");
                }
                List<String> alts = new ArrayList<>();
                for (int i = 0; i < branches.size(); i++) alts.add(visit(branches.get(i), at + "/" + comb + "/" + i));
                return newRule(at.isEmpty() ? comb : at, String.join(" | ", alts));
            }
            List<String> types = types(s, at);
            if (keys.containsKey("const")) {
                only(keys, at, "const", "type");
                return literalValue(s.get("const"), types, at + "/const");
            }
            if (keys.containsKey("enum")) {
                only(keys, at, "enum", "type");
                List<?> values = list(s.get("enum"), "enum", at);
                List<String> alts = new ArrayList<>();
                for (Object v : values) if (fits(v, types)) alts.add(literal(Json.write(v)));
                if (alts.isEmpty()) throw new SchemaException("enum", at, "'enum' has no value of the schema's type");
                return "( " + String.join(" | ", alts) + " )";
            }
            if (types == null) types = inferTypes(keys);
            if (types == null) return prim("value");
            List<String> alts = new ArrayList<>();
            for (String t : types) alts.add(typed(s, t, at));
            return alts.size() == 1 ? alts.getFirst() : "( " + String.join(" | ", alts) + " )";
        }

        private static void only(Map<String, Object> keys, String at, String... allowed) {
            Set<String> ok = Set.of(allowed);
            for (String k : keys.keySet())
                if (!ok.contains(k))
                    throw new SchemaException(
                            k, at, "keyword '" + k + "' next to '" + allowed[0] + "' is not supported");
        }

        private static List<?> list(Object v, String keyword, String at) {
            if (!(v instanceof List<?> l)) throw new SchemaException(keyword, at, "'" + keyword + "' must be an array");
            return l;
        }

        private List<String> types(Map<String, Object> s, String at) {
            Object t = s.get("type");
            if (t == null) return null;
            List<String> out = new ArrayList<>();
            if (t instanceof String str) out.add(str);
            else if (t instanceof List<?> l) {
                for (Object o : l) {
                    if (!(o instanceof String str)) throw new SchemaException("type", at, "'type' must name types");
                    if (!out.contains(str)) out.add(str);
                }
            } else throw new SchemaException("type", at, "'type' must be a string or an array of strings");
            for (String x : out)
                if (!TYPES.contains(x)) throw new SchemaException("type", at, "unknown type '" + x + "'");
            if (out.isEmpty()) throw new SchemaException("type", at, "'type' is an empty array");
            return out;
        }

        private static List<String> inferTypes(Map<String, Object> keys) {
            List<String> t = new ArrayList<>();
            if (keys.containsKey("properties")
                    || keys.containsKey("required")
                    || keys.containsKey("additionalProperties")) t.add("object");
            if (keys.containsKey("items") || keys.containsKey("minItems") || keys.containsKey("maxItems"))
                t.add("array");
            if (keys.containsKey("minLength")
                    || keys.containsKey("maxLength")
                    || keys.containsKey("pattern")
                    || keys.containsKey("format")) t.add("string");
            if (keys.containsKey("minimum")
                    || keys.containsKey("maximum")
                    || keys.containsKey("exclusiveMinimum")
                    || keys.containsKey("exclusiveMaximum")) t.add("number");
            return t.isEmpty() ? null : t;
        }

        private static boolean fits(Object v, List<String> types) {
            if (types == null) return true;
            for (String t : types) {
                boolean ok = switch (t) {
                    case "null" -> v == Json.NULL;
                    case "boolean" -> v instanceof Boolean;
                    case "string" -> v instanceof String;
                    case "number" -> v instanceof BigDecimal;
                    case "integer" -> v instanceof BigDecimal d && isIntegral(d);
                    case "array" -> v instanceof List;
                    case "object" -> v instanceof Map;
                    default -> false;
                };
                if (ok) return true;
            }
            return false;
        }

        private static boolean isIntegral(BigDecimal d) {
            return d.signum() == 0 || d.stripTrailingZeros().scale() <= 0;
        }

        private static String literalValue(Object v, List<String> types, String at) {
            if (!fits(v, types)) throw new SchemaException("const", at, "'const' is not of the schema's type");
            return literal(Json.write(v));
        }

        private String ref(Object target, String at) {
            if (!(target instanceof String r)) throw new SchemaException("$ref", at, "'$ref' must be a string");
            String existing = refRules.get(r);
            if (existing != null) return existing;
            Object node;
            if (r.equals("#")) node = root;
            else if (r.startsWith("#/$defs/") || r.startsWith("#/definitions/")) {
                String container = r.startsWith("#/$defs/") ? "$defs" : "definitions";
                String key =
                        r.substring(container.length() + 3).replace("~1", "/").replace("~0", "~");
                Object defs = root instanceof Map<?, ?> m ? m.get(container) : null;
                node = defs instanceof Map<?, ?> d ? d.get(key) : null;
                if (node == null) throw new SchemaException("$ref", at, "'$ref' " + r + " names no definition");
            } else
                throw new SchemaException(
                        "$ref", at, "'$ref' " + r + " is not local (#/$defs/... or #/definitions/...)");
            // Named before it is visited, so a recursive reference finds the rule.
            String name = p + "ref-" + refRules.size();
            refRules.put(r, name);
            rules.put(name, "");
            rules.put(name, visit(node, r.substring(1)));
            return name;
        }

        private String typed(Map<String, Object> s, String type, String at) {
            return switch (type) {
                case "null" -> "\"null\"";
                case "boolean" -> "( \"true\" | \"false\" )";
                case "integer" -> integer(s, at, true);
                case "number" -> integer(s, at, false);
                case "string" -> string(s, at);
                case "array" -> array(s, at);
                case "object" -> object(s, at);
                default -> throw new SchemaException("type", at, "unknown type '" + type + "'");
            };
        }

        // ---------------------------------------------------------------------------- numbers

        private String integer(Map<String, Object> s, String at, boolean integral) {
            BigDecimal lo = null, hi = null;
            boolean loExclusive = false, hiExclusive = false;
            if (s.get("minimum") != null) lo = number(s, "minimum", at);
            if (s.get("maximum") != null) hi = number(s, "maximum", at);
            Object exMin = s.get("exclusiveMinimum"), exMax = s.get("exclusiveMaximum");
            if (exMin instanceof Boolean b) loExclusive = b; // draft 4: a flag on minimum
            else if (exMin != null) {
                BigDecimal v = number(s, "exclusiveMinimum", at);
                if (lo == null || v.compareTo(lo) >= 0) {
                    lo = v;
                    loExclusive = true;
                }
            }
            if (exMax instanceof Boolean b) hiExclusive = b;
            else if (exMax != null) {
                BigDecimal v = number(s, "exclusiveMaximum", at);
                if (hi == null || v.compareTo(hi) <= 0) {
                    hi = v;
                    hiExclusive = true;
                }
            }
            if (lo == null && hi == null) return prim(integral ? "integer" : "number");
            // Bounded numbers are written as integers: a subset of the valid values, exactly expressible.
            long min = -MAX_INTEGER, max = MAX_INTEGER;
            if (lo != null) {
                BigDecimal c = lo.setScale(0, RoundingMode.CEILING);
                if (loExclusive && c.compareTo(lo) == 0) c = c.add(BigDecimal.ONE);
                min = c.max(BigDecimal.valueOf(-MAX_INTEGER))
                        .min(BigDecimal.valueOf(MAX_INTEGER + 1))
                        .longValue();
            }
            if (hi != null) {
                BigDecimal f = hi.setScale(0, RoundingMode.FLOOR);
                if (hiExclusive && f.compareTo(hi) == 0) f = f.subtract(BigDecimal.ONE);
                max = f.min(BigDecimal.valueOf(MAX_INTEGER))
                        .max(BigDecimal.valueOf(-MAX_INTEGER - 1))
                        .longValue();
            }
            if (min > max)
                throw new SchemaException(
                        lo != null ? (loExclusive ? "exclusiveMinimum" : "minimum") : "maximum",
                        at,
                        "no " + (integral ? "integer" : "integral number") + " lies within the bounds");
            return newRule(at.isEmpty() ? "int" : at, intRange(min, max));
        }

        private static BigDecimal number(Map<String, Object> s, String keyword, String at) {
            if (!(s.get(keyword) instanceof BigDecimal d))
                throw new SchemaException(keyword, at, "'" + keyword + "' must be a number");
            return d;
        }

        /** Decimal integers in [lo, hi], no leading zeros, as alternatives of digit classes. */
        static String intRange(long lo, long hi) {
            List<String> alts = new ArrayList<>();
            if (lo < 0) {
                long a = Math.max(1, -Math.min(hi, -1)), b = -lo;
                for (String x : nonNegative(a, b)) alts.add("\"-\" " + x);
            }
            if (hi >= 0) alts.addAll(nonNegative(Math.max(lo, 0), hi));
            return String.join(" | ", alts);
        }

        private static List<String> nonNegative(long a, long b) {
            List<String> out = new ArrayList<>();
            for (int d = Long.toString(a).length(); d <= Long.toString(b).length(); d++) {
                long first = d == 1 ? 0 : pow10(d - 1), last = pow10(d) - 1;
                long x = Math.max(a, first), y = Math.min(b, last);
                if (x <= y) out.addAll(sameLength(Long.toString(x), Long.toString(y)));
            }
            return out;
        }

        private static long pow10(int n) {
            long v = 1;
            for (int i = 0; i < n; i++) v *= 10;
            return v;
        }

        /** Digit strings of one length between x and y (inclusive), as sequences of literals and classes. */
        private static List<String> sameLength(String x, String y) {
            List<String> out = new ArrayList<>();
            if (x.equals(y)) {
                out.add("\"" + x + "\"");
                return out;
            }
            int n = x.length();
            char x0 = x.charAt(0), y0 = y.charAt(0);
            if (n == 1) {
                out.add("[" + x0 + "-" + y0 + "]");
                return out;
            }
            String xr = x.substring(1), yr = y.substring(1);
            if (x0 == y0) {
                for (String t : sameLength(xr, yr)) out.add("\"" + x0 + "\" " + t);
                return out;
            }
            String nines = "9".repeat(n - 1), zeros = "0".repeat(n - 1);
            char from = x0, to = y0;
            if (!xr.equals(zeros)) {
                for (String t : sameLength(xr, nines)) out.add("\"" + x0 + "\" " + t);
                from++;
            }
            boolean yFull = yr.equals(nines);
            if (!yFull) to--;
            if (from <= to)
                out.add((from == to ? "\"" + from + "\"" : "[" + from + "-" + to + "]") + " [0-9]{" + (n - 1) + "}");
            if (!yFull) for (String t : sameLength(zeros, yr)) out.add("\"" + y0 + "\" " + t);
            return out;
        }

        // ---------------------------------------------------------------------------- strings

        private String string(Map<String, Object> s, String at) {
            Object format = s.get("format"), pattern = s.get("pattern");
            boolean lengths = s.containsKey("minLength") || s.containsKey("maxLength");
            if (format != null) {
                if (pattern != null || lengths)
                    throw new SchemaException(
                            pattern != null ? "pattern" : "minLength",
                            at,
                            "keyword '" + (pattern != null ? "pattern" : "minLength/maxLength")
                                    + "' together with 'format' is not supported");
                return format(format, at);
            }
            if (pattern != null) {
                if (lengths)
                    throw new SchemaException(
                            "pattern", at, "keyword 'pattern' together with 'minLength'/'maxLength' is not supported");
                if (!(pattern instanceof String re))
                    throw new SchemaException("pattern", at, "'pattern' must be a string");
                return "\"\\\"\" ( " + new Regex(re, at).compile() + " ) \"\\\"\"";
            }
            if (!lengths) return prim("string");
            int min = count(s, "minLength", at, 0), max = count(s, "maxLength", at, -1);
            if (max >= 0 && max < min) throw new SchemaException("maxLength", at, "'maxLength' is below 'minLength'");
            String rep = max < 0 ? "{" + min + ",}" : "{" + min + "," + max + "}";
            return newRule(at.isEmpty() ? "string" : at, "\"\\\"\" " + prim("char") + rep + " \"\\\"\"");
        }

        private static int count(Map<String, Object> s, String keyword, String at, int absent) {
            Object v = s.get(keyword);
            if (v == null) return absent;
            if (!(v instanceof BigDecimal d) || !isIntegral(d) || d.signum() < 0)
                throw new SchemaException(keyword, at, "'" + keyword + "' must be a non-negative integer");
            if (d.compareTo(BigDecimal.valueOf(MAX_COUNT)) > 0)
                throw new SchemaException(
                        keyword, at, "'" + keyword + "' " + d + " is above the supported " + MAX_COUNT);
            return d.intValue();
        }

        private String format(Object format, String at) {
            String date =
                    "[0-9]{4} \"-\" ( ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8] )"
                            + " | ( \"0\" [13-9] | \"1\" [0-2] ) \"-\" ( \"29\" | \"30\" ) | ( \"0\" [13578] | \"1\" [02] ) \"-31\" )";
            String time = "( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{1,6} )?"
                    + " ( \"Z\" | [+-] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )";
            String body = switch (String.valueOf(format)) {
                case "date" -> date;
                case "time" -> time;
                case "date-time" -> date + " \"T\" " + time;
                case "uuid" -> "[0-9a-f]{8} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{12}";
                case "email" ->
                    "[a-z0-9]{1,32} ( \".\" [a-z0-9]{1,32} ){0,3} \"@\" [a-z0-9]{1,32} ( \".\" [a-z0-9]{1,32} ){0,3}"
                            + " \".\" ( \"com\" | \"org\" | \"net\" | \"io\" | \"dev\" )";
                default ->
                    throw new SchemaException(
                            "format",
                            at,
                            "format '" + format + "' is not supported (supported: date, time, date-time, uuid,"
                                    + " email)");
            };
            return newRule(at.isEmpty() ? String.valueOf(format) : at, "\"\\\"\" " + body + " \"\\\"\"");
        }

        // ---------------------------------------------------------------------------- arrays

        private String array(Map<String, Object> s, String at) {
            Object items = s.get("items");
            if (items instanceof List)
                throw new SchemaException("items", at, "'items' as an array (tuples) is not supported");
            if (Boolean.TRUE.equals(s.get("uniqueItems")))
                throw new SchemaException("uniqueItems", at, "keyword 'uniqueItems' is not supported");
            String item = items == null ? prim("value") : visit(items, at + "/items");
            int min = count(s, "minItems", at, 0), max = count(s, "maxItems", at, -1);
            if (max >= 0 && max < min) throw new SchemaException("maxItems", at, "'maxItems' is below 'minItems'");
            String ws = prim("ws");
            String one = item + " " + ws, more = "\",\" " + ws + " " + item + " " + ws;
            String body;
            if (max == 0) body = "\"[\" " + ws + " \"]\"";
            else {
                String rest = max < 0
                        ? "{" + Math.max(0, min - 1) + ",}"
                        : "{" + Math.max(0, min - 1) + "," + (max - 1) + "}";
                String list = one + " ( " + more + " )" + rest;
                body = "\"[\" " + ws + " " + (min == 0 ? "( " + list + " )?" : list) + " \"]\"";
            }
            return newRule(at.isEmpty() ? "array" : at, body);
        }

        // ---------------------------------------------------------------------------- objects

        private String object(Map<String, Object> s, String at) {
            Object propsRaw = s.get("properties");
            Object additional = s.get("additionalProperties");
            if (propsRaw != null && !(propsRaw instanceof Map))
                throw new SchemaException("properties", at, "'properties' must be an object");
            @SuppressWarnings("unchecked")
            Map<String, Object> props =
                    propsRaw == null ? new LinkedHashMap<>() : new LinkedHashMap<>((Map<String, Object>) propsRaw);
            List<String> required = new ArrayList<>();
            if (s.get("required") != null) {
                for (Object o : list(s.get("required"), "required", at)) {
                    if (!(o instanceof String r))
                        throw new SchemaException("required", at, "'required' must name properties");
                    if (!required.contains(r)) required.add(r);
                }
            }
            if (props.isEmpty() && required.isEmpty() && (additional == null || Boolean.TRUE.equals(additional)))
                return prim("object");
            // A required name without a declared schema takes additionalProperties' (it must then allow it).
            for (String r : required) {
                if (props.containsKey(r)) continue;
                if (Boolean.FALSE.equals(additional))
                    throw new SchemaException(
                            "required",
                            at,
                            "required property '" + r + "' is not allowed by additionalProperties false");
                props.put(r, additional == null ? Boolean.TRUE : additional);
            }
            String ws = prim("ws");
            List<String> names = new ArrayList<>(props.keySet());
            int n = names.size();
            String[] kv = new String[n];
            for (int i = 0; i < n; i++) {
                String name = names.get(i);
                String value = visit(
                        props.get(name),
                        at + "/properties/" + name.replace("~", "~0").replace("/", "~1"));
                kv[i] = literal(Json.quote(name)) + " " + ws + " \":\" " + ws + " " + value + " " + ws;
            }
            String extra = null; // one additional member, under a name that is not declared
            if (additional != null && !Boolean.FALSE.equals(additional)) {
                String value = Boolean.TRUE.equals(additional)
                        ? prim("value")
                        : visit(additional, at + "/additionalProperties");
                extra = newRule(at + "-key", notIn(names)) + " " + ws + " \":\" " + ws + " " + value + " " + ws;
            }
            // From the end: after[i] follows an emitted member (each next one needs a comma), first[i] has none yet.
            String after = extra == null ? "\"\"" : newRule(at + "-more", "( \",\" " + ws + " " + extra + " )*");
            String first = extra == null ? "\"\"" : "( " + extra + " " + after + " )?";
            for (int i = n - 1; i >= 0; i--) {
                boolean req = required.contains(names.get(i));
                String afterI = newRule(
                        at + "-after", (req ? "" : "( ") + "\",\" " + ws + " " + kv[i] + (req ? " " : " )? ") + after);
                String firstI = newRule(at + "-first", kv[i] + " " + after + (req ? "" : " | " + first));
                after = afterI;
                first = firstI;
            }
            return newRule(at.isEmpty() ? "object" : at, "\"{\" " + ws + " " + first + " \"}\"");
        }

        /** A JSON string that is none of {@code names} (unescaped characters only, so no escape can spell one). */
        private String notIn(List<String> names) {
            String plain = "[^\"\\\\\\x00-\\x1F]";
            if (names.isEmpty()) return "\"\\\"\" " + plain + "* \"\\\"\"";
            return "\"\\\"\" " + notInFrom(names, 0) + " \"\\\"\"";
        }

        /** Strings that differ from every name in {@code names} (which share their first {@code k} characters). */
        private String notInFrom(List<String> names, int k) {
            String plain = "[^\"\\\\\\x00-\\x1F]";
            boolean endsHere = false;
            Map<Integer, List<String>> next = new TreeMap<>();
            for (String nm : names) {
                if (nm.codePointCount(0, nm.length()) == k) endsHere = true;
                else
                    next.computeIfAbsent(nm.codePointAt(nm.offsetByCodePoints(0, k)), c -> new ArrayList<>())
                            .add(nm);
            }
            List<String> alts = new ArrayList<>();
            if (!endsHere) alts.add("\"\""); // the string may stop here: it is shorter than every name
            StringBuilder excluded = new StringBuilder("[^\"\\\\\\x00-\\x1F");
            for (int cp : next.keySet()) excluded.append(escape(cp, true));
            alts.add(excluded.append("] ").append(plain).append("*").toString());
            for (Map.Entry<Integer, List<String>> e : next.entrySet()) {
                String c = literal(new String(Character.toChars(e.getKey())));
                alts.add(c + " " + newRule("key", notInFrom(e.getValue(), k + 1)));
            }
            return "( " + String.join(" | ", alts) + " )";
        }
    }

    // ------------------------------------------------------------------------------------------------

    /**
     * A regular-expression subset translated to GBNF over JSON string content (never executed). Characters that JSON
     * must escape are written escaped; classes keep only characters a JSON string can hold unescaped, plus the escaped
     * quote, backslash, newline, tab and carriage return where the class holds them (a subset of the pattern's
     * language is enough: the grammar may allow less).
     */
    private static final class Regex {
        private static final int MAX_LENGTH = 1000;
        private final String re;
        private final String at;
        private int pos;
        private int depth;

        Regex(String re, String at) {
            if (re.length() > MAX_LENGTH)
                throw new SchemaException("pattern", at, "'pattern' is longer than " + MAX_LENGTH + " characters");
            this.re = re;
            this.at = at;
        }

        String compile() {
            if (re.startsWith("^")) pos = 1;
            String out = alternation();
            if (pos != re.length()) throw refuse("unexpected '" + re.charAt(pos) + "'");
            return out.isEmpty() ? "\"\"" : out;
        }

        private SchemaException refuse(String why) {
            return new SchemaException("pattern", at, "'pattern' cannot be compiled: " + why + " at offset " + pos);
        }

        private String alternation() {
            List<String> alts = new ArrayList<>();
            alts.add(sequence());
            while (pos < re.length() && re.charAt(pos) == '|') {
                pos++;
                alts.add(sequence());
            }
            return alts.size() == 1 ? alts.getFirst() : "( " + String.join(" | ", alts) + " )";
        }

        private String sequence() {
            StringBuilder out = new StringBuilder();
            while (pos < re.length()) {
                char c = re.charAt(pos);
                if (c == '|' || c == ')') break;
                if (c == '$') {
                    pos++;
                    if (pos != re.length() && re.charAt(pos) != '|' && re.charAt(pos) != ')')
                        throw refuse("'$' inside the pattern");
                    continue;
                }
                String atom = atom();
                String q = quantifier();
                out.append(out.isEmpty() ? "" : " ")
                        .append("( ")
                        .append(atom)
                        .append(" )")
                        .append(q);
            }
            return out.isEmpty() ? "\"\"" : out.toString();
        }

        private String quantifier() {
            if (pos >= re.length()) return "";
            char c = re.charAt(pos);
            String q;
            if (c == '*' || c == '+' || c == '?') {
                pos++;
                q = String.valueOf(c);
            } else if (c == '{') {
                int close = re.indexOf('}', pos);
                if (close < 0) throw refuse("unterminated '{'");
                String body = re.substring(pos + 1, close);
                if (!body.matches("\\d{1,4}(,\\d{0,4})?")) throw refuse("bad repetition '{" + body + "}'");
                String[] parts = body.split(",", -1);
                int m = Integer.parseInt(parts[0]);
                int n = parts.length == 1 ? m : parts[1].isEmpty() ? -1 : Integer.parseInt(parts[1]);
                if (m > MAX_COUNT || n > MAX_COUNT) throw refuse("repetition above " + MAX_COUNT);
                if (n >= 0 && n < m) throw refuse("empty repetition");
                pos = close + 1;
                q = "{" + m + (parts.length == 1 ? "" : "," + (n < 0 ? "" : n)) + "}";
            } else return "";
            if (pos < re.length() && re.charAt(pos) == '?') pos++; // lazy: the same language
            else if (pos < re.length() && re.charAt(pos) == '+') throw refuse("possessive quantifiers");
            return q;
        }

        private String atom() {
            char c = re.charAt(pos);
            switch (c) {
                case '(' -> {
                    if (++depth > 32) throw refuse("groups nested deeper than 32");
                    pos++;
                    if (re.startsWith("?:", pos)) pos += 2;
                    else if (pos < re.length() && re.charAt(pos) == '?') throw refuse("lookaround or named groups");
                    String inner = alternation();
                    if (pos >= re.length() || re.charAt(pos) != ')') throw refuse("missing ')'");
                    pos++;
                    depth--;
                    return inner;
                }
                case '[' -> {
                    return charClass();
                }
                case '.' -> {
                    pos++;
                    return "[^\"\\\\\\x00-\\x1F]";
                }
                case '\\' -> {
                    pos++;
                    if (pos >= re.length()) throw refuse("trailing backslash");
                    char e = re.charAt(pos++);
                    List<int[]> set = shorthand(e);
                    if (set != null) return classOf(set, false);
                    return jsonChar(escapedChar(e));
                }
                case '*', '+', '?', '{' -> throw refuse("nothing to repeat");
                case '^' -> throw refuse("'^' inside the pattern");
                default -> {
                    int cp = re.codePointAt(pos);
                    pos += Character.charCount(cp);
                    return jsonChar(cp);
                }
            }
        }

        private int escapedChar(char e) {
            return switch (e) {
                case 'n' -> '\n';
                case 't' -> '\t';
                case 'r' -> '\r';
                case 'f' -> '\f';
                case 'v' -> 0x0B;
                case 'u' -> {
                    if (pos + 4 > re.length()) throw refuse("incomplete \\u escape");
                    int v = Integer.parseInt(re.substring(pos, pos + 4), 16);
                    pos += 4;
                    yield v;
                }
                default -> {
                    if (Character.isLetterOrDigit(e)) throw refuse("escape '\\" + e + "'");
                    yield e;
                }
            };
        }

        /** \d \w \s as ranges; null for other escapes. Negated shorthands are refused. */
        private List<int[]> shorthand(char e) {
            return switch (e) {
                case 'd' -> List.of(new int[] {'0', '9'});
                case 'w' ->
                    List.of(new int[] {'0', '9'}, new int[] {'A', 'Z'}, new int[] {'a', 'z'}, new int[] {'_', '_'});
                case 's' -> List.of(new int[] {' ', ' '}, new int[] {'\t', '\r'});
                case 'D', 'W', 'S', 'b', 'B' -> throw refuse("escape '\\" + e + "'");
                default -> null;
            };
        }

        private String charClass() {
            pos++;
            boolean negated = pos < re.length() && re.charAt(pos) == '^';
            if (negated) pos++;
            List<int[]> ranges = new ArrayList<>();
            boolean first = true;
            while (true) {
                if (pos >= re.length()) throw refuse("unterminated '['");
                char c = re.charAt(pos);
                if (c == ']' && !first) {
                    pos++;
                    break;
                }
                first = false;
                int lo;
                if (c == '\\') {
                    pos++;
                    if (pos >= re.length()) throw refuse("trailing backslash");
                    char e = re.charAt(pos++);
                    List<int[]> set = shorthand(e);
                    if (set != null) {
                        ranges.addAll(set);
                        continue;
                    }
                    lo = escapedChar(e);
                } else if (c == '[') throw refuse("nested classes");
                else {
                    lo = re.codePointAt(pos);
                    pos += Character.charCount(lo);
                }
                int hi = lo;
                if (pos + 1 < re.length() && re.charAt(pos) == '-' && re.charAt(pos + 1) != ']') {
                    pos++;
                    char h = re.charAt(pos);
                    if (h == '\\') {
                        pos++;
                        if (pos >= re.length()) throw refuse("trailing backslash");
                        hi = escapedChar(re.charAt(pos++));
                    } else {
                        hi = re.codePointAt(pos);
                        pos += Character.charCount(hi);
                    }
                    if (hi < lo) throw refuse("reversed range");
                }
                ranges.add(new int[] {lo, hi});
            }
            return classOf(ranges, negated);
        }

        /** The GBNF for one character of the class, written as JSON string content. */
        private String classOf(List<int[]> ranges, boolean negated) {
            StringBuilder cls = new StringBuilder(negated ? "[^\"\\\\\\x00-\\x1F" : "[");
            List<String> escaped = new ArrayList<>();
            boolean plain = false;
            for (int[] r : ranges) {
                for (int special : new int[] {'"', '\\', '\n', '\t', '\r'}) {
                    if (!negated && r[0] <= special && special <= r[1]) escaped.add(jsonChar(special));
                }
                // Plain part: the range without the characters JSON must escape.
                int lo = Math.max(r[0], 0x20), hi = r[1];
                if (lo > hi) continue;
                if (negated) {
                    cls.append(escape(lo, true)).append('-').append(escape(hi, true));
                    continue;
                }
                for (int[] piece : without(lo, hi)) {
                    cls.append(escape(piece[0], true));
                    if (piece[1] > piece[0]) cls.append('-').append(escape(piece[1], true));
                    plain = true;
                }
            }
            cls.append(']');
            List<String> alts = new ArrayList<>();
            if (negated || plain) alts.add(cls.toString());
            alts.addAll(escaped);
            if (alts.isEmpty()) throw refuse("a class with no character a JSON string can hold");
            return alts.size() == 1 ? alts.getFirst() : "( " + String.join(" | ", alts) + " )";
        }

        /** [lo, hi] without '"' and '\'. */
        private static List<int[]> without(int lo, int hi) {
            List<int[]> out = new ArrayList<>();
            int from = lo;
            for (int cut : new int[] {'"', '\\'}) {
                if (cut < from || cut > hi) continue;
                if (cut > from) out.add(new int[] {from, cut - 1});
                from = cut + 1;
            }
            if (from <= hi) out.add(new int[] {from, hi});
            return out;
        }

        /** One character as JSON string content, as a GBNF literal. */
        private static String jsonChar(int cp) {
            String json = Json.quote(new String(Character.toChars(cp)));
            return literal(json.substring(1, json.length() - 1));
        }
    }
}
