package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * JSON Schema to GBNF: what each keyword lets through (sentences checked with the matcher), random generations that
 * must validate (checked by a small validator of the supported keywords written here, independent of the compiler),
 * and refusals naming the keyword.
 */
class JsonSchemaGrammarTest {

    static Tokenizer stories;

    @BeforeAll
    static void load() throws Exception {
        try (GgufFile f = GgufFile.open(TestData.stories260KGguf())) {
            stories = Tokenizer.fromGguf(f);
        }
    }

    static Grammar grammar(String schema) {
        return Grammar.parse(JsonSchemaGrammar.gbnf(schema));
    }

    static boolean accepts(String schema, String json) {
        return GrammarTest.accepts(grammar(schema), json);
    }

    @Test
    void objectsWithRequiredAndOptionalPropertiesInOrder() {
        String s = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"string\"},"
                + "\"c\":{\"type\":\"boolean\"}},\"required\":[\"b\"]}";
        assertTrue(accepts(s, "{\"b\":\"x\"}"));
        assertTrue(accepts(s, "{\"a\":1,\"b\":\"x\",\"c\":true}"));
        assertTrue(accepts(s, "{ \"a\": -12, \"b\": \"\",\n  \"c\": false }"));
        assertTrue(accepts(s, "{\"b\":\"x\",\"c\":false}"));
        assertFalse(accepts(s, "{\"a\":1}"), "b is required");
        assertFalse(accepts(s, "{\"b\":\"x\",\"d\":1}"), "no other members");
        assertFalse(accepts(s, "{\"a\":1.5,\"b\":\"x\"}"));
        assertFalse(accepts(s, "{,\"b\":\"x\"}"));
        assertFalse(accepts(s, "{\"b\":\"x\",}"));
        assertFalse(accepts(s, "{\"b\":\"x\"}" + " ".repeat(3)), "the object ends the output");
    }

    @Test
    void additionalPropertiesNeverRepeatADeclaredName() {
        String s = "{\"type\":\"object\",\"properties\":{\"ab\":{\"type\":\"integer\"}},\"additionalProperties\":"
                + "{\"type\":\"string\"}}";
        assertTrue(accepts(s, "{\"ab\":1,\"a\":\"x\",\"abc\":\"y\",\"b\":\"z\"}"));
        assertTrue(accepts(s, "{\"zz\":\"x\"}"));
        assertFalse(accepts(s, "{\"ab\":1,\"ab\":\"x\"}"));
        assertFalse(accepts(s, "{\"ab\":1,\"q\":2}"));
        assertTrue(accepts("{\"type\":\"object\"}", "{\"anything\":[1,{\"x\":null}]}"));
    }

    @Test
    void scalarsEnumsConstsAndTypeArrays() {
        assertTrue(accepts("{\"enum\":[\"red\",1,null,{\"a\":[true]}]}", "{\"a\":[true]}"));
        assertTrue(accepts("{\"enum\":[\"red\",1,null]}", "\"red\""));
        assertFalse(accepts("{\"enum\":[\"red\",1,null]}", "\"blue\""));
        assertTrue(accepts("{\"const\":\"a\\\"b\"}", "\"a\\\"b\""));
        assertTrue(accepts("{\"type\":[\"string\",\"null\"]}", "null"));
        assertTrue(accepts("{\"type\":[\"string\",\"null\"]}", "\"x\""));
        assertFalse(accepts("{\"type\":[\"string\",\"null\"]}", "1"));
        assertTrue(accepts("{\"type\":\"number\"}", "-0.5e10"));
        assertFalse(accepts("{\"type\":\"number\"}", "01"));
        assertFalse(accepts("{\"type\":\"integer\"}", "1" + "0".repeat(16)), "integers are bounded to 16 digits");
        assertTrue(accepts("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", "\"a\\u00e9\""));
        assertFalse(accepts("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", "\"abcd\""));
        assertFalse(accepts("{\"type\":\"string\"}", "\"\\ud800\""), "no surrogate halves");
        assertFalse(accepts("{\"type\":\"string\"}", "\"a\nb\""), "no raw control characters");
    }

    @Test
    void integerRangesAreExact() {
        for (long[] range : new long[][] {{0, 120}, {-15, 7}, {13, 13}, {-1000, -999}, {5, 2047}, {-3, 0}, {99, 101}}) {
            Grammar g = grammar("{\"type\":\"integer\",\"minimum\":" + range[0] + ",\"maximum\":" + range[1] + "}");
            for (long v = range[0] - 30; v <= range[1] + 30; v++)
                assertEquals(v >= range[0] && v <= range[1], GrammarTest.accepts(g, Long.toString(v)), "value " + v);
        }
        Grammar ex = grammar("{\"type\":\"number\",\"exclusiveMinimum\":0,\"exclusiveMaximum\":3}");
        assertTrue(GrammarTest.accepts(ex, "1"));
        assertTrue(GrammarTest.accepts(ex, "2"));
        assertFalse(GrammarTest.accepts(ex, "0"));
        assertFalse(GrammarTest.accepts(ex, "3"));
        assertTrue(GrammarTest.accepts(grammar("{\"type\":\"integer\",\"minimum\":10}"), "12345"));
        assertFalse(GrammarTest.accepts(grammar("{\"type\":\"integer\",\"minimum\":10}"), "9"));
    }

    @Test
    void arraysFormatsPatternsRefsAndAlternatives() {
        String arr = "{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":1,\"maxItems\":3}";
        assertTrue(accepts(arr, "[1]"));
        assertTrue(accepts(arr, "[1, 2,3]"));
        assertFalse(accepts(arr, "[]"));
        assertFalse(accepts(arr, "[1,2,3,4]"));
        assertTrue(accepts("{\"type\":\"array\",\"maxItems\":0}", "[]"));
        assertTrue(accepts("{\"type\":\"string\",\"format\":\"date\"}", "\"2024-02-28\""));
        assertFalse(accepts("{\"type\":\"string\",\"format\":\"date\"}", "\"2024-02-30\""));
        assertFalse(accepts("{\"type\":\"string\",\"format\":\"date\"}", "\"2024-13-01\""));
        assertTrue(accepts("{\"type\":\"string\",\"format\":\"date-time\"}", "\"2024-01-31T23:59:59.5+01:00\""));
        assertTrue(accepts("{\"type\":\"string\",\"format\":\"uuid\"}", "\"123e4567-e89b-12d3-a456-426614174000\""));
        assertTrue(accepts("{\"type\":\"string\",\"format\":\"email\"}", "\"ann.lee@mail.example.com\""));
        String pat = "{\"type\":\"string\",\"pattern\":\"^[A-Z]{2}-\\\\d{3,4}(x|y\\\\.z)?$\"}";
        assertTrue(accepts(pat, "\"AB-123\""));
        assertTrue(accepts(pat, "\"AB-1234y.z\""));
        assertFalse(accepts(pat, "\"AB-12\""));
        assertFalse(accepts(pat, "\"ab-123\""));
        assertTrue(
                accepts("{\"type\":\"string\",\"pattern\":\"^a\\\"[\\\\\\\\b]$\"}", "\"a\\\"\\\\\""),
                "quote, backslash");
        String ref = "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},\"next\":"
                + "{\"anyOf\":[{\"$ref\":\"#/$defs/node\"},{\"type\":\"null\"}]}},\"required\":[\"v\",\"next\"]}},"
                + "\"$ref\":\"#/$defs/node\"}";
        assertTrue(accepts(ref, "{\"v\":1,\"next\":{\"v\":2,\"next\":null}}"));
        assertFalse(accepts(ref, "{\"v\":1,\"next\":{\"v\":2}}"));
        String one = "{\"oneOf\":[{\"type\":\"boolean\"},{\"type\":\"object\",\"properties\":{\"k\":{\"const\":1}},"
                + "\"required\":[\"k\"]}]}";
        assertTrue(accepts(one, "true"));
        assertTrue(accepts(one, "{\"k\":1}"));
        assertFalse(accepts(one, "{\"k\":2}"));
    }

    static final List<String> SCHEMAS = List.of(
            "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":12},\"age\":{\"type\":"
                    + "\"integer\",\"minimum\":0,\"maximum\":150},\"tags\":{\"type\":\"array\",\"items\":{\"enum\":"
                    + "[\"a\",\"b\",\"c\"]},\"maxItems\":3},\"ok\":{\"type\":\"boolean\"}},\"required\":[\"name\",\"age\"],"
                    + "\"additionalProperties\":false}",
            "{\"type\":\"object\",\"properties\":{\"when\":{\"type\":\"string\",\"format\":\"date\"},\"id\":{\"type\":"
                    + "\"string\",\"format\":\"uuid\"},\"code\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}[0-9]{2}$\"}},"
                    + "\"required\":[\"when\",\"id\",\"code\"]}",
            "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":2,\"items\":"
                    + "{\"$ref\":\"#/definitions/item\"}}},\"required\":[\"items\"],\"definitions\":{\"item\":{\"type\":"
                    + "\"object\",\"properties\":{\"sku\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4},\"n\":"
                    + "{\"type\":[\"integer\",\"null\"]}},\"required\":[\"sku\",\"n\"]}}}",
            "{\"type\":\"object\",\"properties\":{\"v\":{\"anyOf\":[{\"type\":\"number\"},{\"const\":\"none\"}]}},"
                    + "\"additionalProperties\":{\"type\":\"integer\",\"minimum\":-5,\"maximum\":5}}");

    @Test
    void randomGenerationsAlwaysValidate() {
        for (String schema : SCHEMAS) {
            Grammar g = grammar(schema);
            Object parsedSchema = Json.parse(schema);
            int finished = 0;
            for (long seed = 1; seed <= 25; seed++) {
                Generation gen = ConstrainedDecodingTest.walk(
                        stories, new int[] {stories.bos()}, GrammarConstraint.of(g), seed, 400);
                if (gen.finishReason() == Generation.FinishReason.MAX_TOKENS) continue;
                finished++;
                Object doc = Json.parse(gen.text());
                String problem = Validator.check(parsedSchema, parsedSchema, doc);
                assertEquals(null, problem, () -> gen.text() + " against " + schema);
            }
            assertTrue(finished >= 10, "most walks finish: " + finished + " for " + schema);
        }
    }

    @Test
    void unsupportedKeywordsAreRefusedByName() {
        Map<String, String> refused = Map.of(
                "{\"type\":\"object\",\"patternProperties\":{\"^a\":{}}}", "patternProperties",
                "{\"type\":\"string\",\"pattern\":\"(?=a)b\"}", "pattern",
                "{\"type\":\"string\",\"pattern\":\"(a)\\\\1\"}", "pattern",
                "{\"type\":\"string\",\"format\":\"hostname\"}", "format",
                "{\"allOf\":[{\"type\":\"string\"},{\"maxLength\":2}]}", "allOf",
                "{\"$ref\":\"http://example.com/s.json\"}", "$ref",
                "{\"type\":\"object\",\"properties\":{\"x\":{\"not\":{}}}}", "not",
                "{\"type\":\"integer\",\"minimum\":5,\"maximum\":2}", "minimum",
                "{\"type\":\"string\",\"maxLength\":100000}", "maxLength",
                "{\"type\":\"array\",\"uniqueItems\":true}", "uniqueItems");
        for (Map.Entry<String, String> e : refused.entrySet()) {
            JsonSchemaGrammar.SchemaException x = assertThrows(
                    JsonSchemaGrammar.SchemaException.class, () -> JsonSchemaGrammar.gbnf(e.getKey()), e.getKey());
            assertEquals(e.getValue(), x.keyword(), x.getMessage());
        }
        JsonSchemaGrammar.SchemaException x = assertThrows(
                JsonSchemaGrammar.SchemaException.class,
                () -> JsonSchemaGrammar.gbnf(
                        "{\"type\":\"object\",\"properties\":{\"a\":{\"patternProperties\":{}}}}"));
        assertEquals("keyword 'patternProperties' is not supported (at /properties/a)", x.getMessage());
        assertEquals("/properties/a", x.pointer());
        assertThrows(JsonSchemaGrammar.SchemaException.class, () -> JsonSchemaGrammar.gbnf("{not json"));
        assertThrows(
                Grammar.GrammarException.class,
                () -> grammar("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}"),
                "a reference to itself can never consume input");
    }

    @Test
    void rulesComposeUnderTheirOwnNames() {
        String args = JsonSchemaGrammar.rules(
                Json.parse(
                        "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}"),
                "weather-args");
        String time = JsonSchemaGrammar.rules(Json.parse("{\"type\":\"object\"}"), "time-args");
        Grammar g = Grammar.parse("root ::= call+\ncall ::= "
                + JsonSchemaGrammar.literal("<tool_call>{\"name\": \"weather\", \"arguments\": ") + " weather-args "
                + JsonSchemaGrammar.literal("}</tool_call>") + " | "
                + JsonSchemaGrammar.literal("<tool_call>{\"name\": \"time\", \"arguments\": ")
                + " time-args \"}</tool_call>\"\n" + args + time);
        assertTrue(GrammarTest.accepts(
                g,
                "<tool_call>{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\"}}</tool_call>"
                        + "<tool_call>{\"name\": \"time\", \"arguments\": {}}</tool_call>"));
        assertFalse(GrammarTest.accepts(g, "<tool_call>{\"name\": \"weather\", \"arguments\": {}}</tool_call>"));
    }

    /** The supported keywords' meaning, checked directly on a parsed document; null when it validates. */
    static final class Validator {
        @SuppressWarnings("unchecked")
        static String check(Object root, Object schema, Object v) {
            if (schema == Boolean.TRUE) return null;
            Map<String, Object> s = (Map<String, Object>) schema;
            if (s.containsKey("$ref")) {
                String r = (String) s.get("$ref");
                String[] parts = r.substring(2).split("/");
                return check(root, ((Map<String, Object>) ((Map<String, Object>) root).get(parts[0])).get(parts[1]), v);
            }
            if (s.containsKey("anyOf") || s.containsKey("oneOf")) {
                int ok = 0;
                for (Object b : (List<Object>) s.getOrDefault("anyOf", s.get("oneOf")))
                    if (check(root, b, v) == null) ok++;
                return ok == 0 || (s.containsKey("oneOf") && ok > 1) ? "anyOf/oneOf" : null;
            }
            if (s.containsKey("const") && !Json.write(s.get("const")).equals(Json.write(v))) return "const";
            if (s.containsKey("enum")
                    && ((List<Object>) s.get("enum"))
                            .stream().noneMatch(e -> Json.write(e).equals(Json.write(v)))) return "enum";
            Object type = s.get("type");
            if (type != null) {
                List<Object> types = type instanceof List ? (List<Object>) type : List.of(type);
                boolean fits = types.stream().anyMatch(t -> switch ((String) t) {
                    case "null" -> v == Json.NULL;
                    case "boolean" -> v instanceof Boolean;
                    case "integer" ->
                        v instanceof BigDecimal d && d.stripTrailingZeros().scale() <= 0;
                    case "number" -> v instanceof BigDecimal;
                    case "string" -> v instanceof String;
                    case "array" -> v instanceof List;
                    case "object" -> v instanceof Map;
                    default -> false;
                });
                if (!fits) return "type";
            }
            if (v instanceof BigDecimal d) {
                if (s.get("minimum") instanceof BigDecimal m && d.compareTo(m) < 0) return "minimum";
                if (s.get("maximum") instanceof BigDecimal m && d.compareTo(m) > 0) return "maximum";
            }
            if (v instanceof String str) {
                int n = str.codePointCount(0, str.length());
                if (s.get("minLength") instanceof BigDecimal m && n < m.intValue()) return "minLength";
                if (s.get("maxLength") instanceof BigDecimal m && n > m.intValue()) return "maxLength";
                if (s.get("pattern") instanceof String p
                        && !Pattern.compile(p).matcher(str).find()) return "pattern";
                if ("date".equals(s.get("format"))) {
                    try {
                        java.time.LocalDate.parse(str);
                    } catch (RuntimeException e) {
                        return "format date";
                    }
                }
                if ("uuid".equals(s.get("format"))) {
                    try {
                        if (!java.util.UUID.fromString(str).toString().equals(str)) return "format uuid";
                    } catch (RuntimeException e) {
                        return "format uuid";
                    }
                }
            }
            if (v instanceof List<?> l) {
                if (s.get("minItems") instanceof BigDecimal m && l.size() < m.intValue()) return "minItems";
                if (s.get("maxItems") instanceof BigDecimal m && l.size() > m.intValue()) return "maxItems";
                if (s.containsKey("items"))
                    for (Object item : l) {
                        String p = check(root, s.get("items"), item);
                        if (p != null) return "items: " + p;
                    }
            }
            if (v instanceof Map<?, ?> m) {
                Map<String, Object> props = (Map<String, Object>) s.getOrDefault("properties", Map.of());
                for (Object r : (List<Object>) s.getOrDefault("required", List.of()))
                    if (!m.containsKey(r)) return "required " + r;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    Object sub = props.containsKey(e.getKey())
                            ? props.get(e.getKey())
                            : s.getOrDefault("additionalProperties", Boolean.TRUE);
                    if (sub == Boolean.FALSE) return "additionalProperties " + e.getKey();
                    String p = check(root, sub, e.getValue());
                    if (p != null) return e.getKey() + ": " + p;
                }
            }
            return null;
        }
    }
}
