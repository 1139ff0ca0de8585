package dev.anvil.api.openai;

import dev.anvil.api.ApiException;
import dev.anvil.engine.Json;
import dev.anvil.engine.JsonSchemaGrammar;
import dev.anvil.guardrails.JsonOutputRequirement;
import dev.anvil.serving.chat.ChatMessage;
import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The tools of a chat request, validated: OpenAI's {@code tools} (functions with a name, a description and a JSON
 * Schema of their parameters), {@code tool_choice} and {@code parallel_tool_calls}, and the tool parts of messages
 * (an assistant turn's {@code tool_calls}, whose arguments are JSON text). Everything a client sends here is bounded
 * (counts, sizes, nesting), and every refusal is a 400 naming the field.
 *
 * @param definitions the tools as chat templates see them ({@code {"type": "function", "function": {...}}}, maps in
 *                    the order given)
 * @param functions   the functions by name: their parameter schemas as JSON text ({@code {}} when not given)
 * @param choice      what {@code tool_choice} asks
 * @param parallel    {@code parallel_tool_calls} (default true): whether an answer may hold more than one call
 * @param chars       characters of the names, descriptions and parameter schemas (they count toward the prompt's size)
 */
record ChatTools(
        List<Map<String, Object>> definitions,
        Map<String, Function> functions,
        Choice choice,
        boolean parallel,
        long chars) {

    /** One declared function. */
    record Function(String name, String parametersJson, boolean strict) {}

    /**
     * {@code tool_choice}: {@code none} (answer in text), {@code auto} (the model decides), {@code required} (at least one
     * call), or a named function (that call).
     *
     * @param mode     which
     * @param function the named function, for {@link Mode#FUNCTION}
     */
    record Choice(Mode mode, String function) {
        enum Mode {
            NONE,
            AUTO,
            REQUIRED,
            FUNCTION
        }

        static final Choice NONE = new Choice(Mode.NONE, null), AUTO = new Choice(Mode.AUTO, null);

        /** Whether the answer must be a call. */
        boolean forced() {
            return mode == Mode.REQUIRED || mode == Mode.FUNCTION;
        }
    }

    /** OpenAI's limit on tools per request. */
    static final int MAX_TOOLS = 128;
    /** A function name as OpenAI accepts it. */
    static final Pattern NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");

    static final int MAX_DESCRIPTION_CHARS = 8192;
    /** Largest parameters schema of one function, and of all of them, as JSON text. */
    static final int MAX_SCHEMA_CHARS = 32_768, MAX_TOOLS_CHARS = 262_144;
    /** Deepest nesting of a parameters schema, and of a call's arguments. */
    static final int MAX_DEPTH = 16;
    /** Tool calls in one assistant message; characters of one call's arguments; of a call id. */
    static final int MAX_CALLS_PER_MESSAGE = 128, MAX_ARGUMENTS_CHARS = 65_536, MAX_ID_CHARS = 256;

    /** Whether the model's answer is read for calls. */
    boolean active() {
        return choice.mode() != Choice.Mode.NONE;
    }

    /** The declared names, in order. */
    Set<String> names() {
        return functions.keySet();
    }

    /**
     * The request's tools, or null when it declares none. {@code tool_choice} and {@code parallel_tool_calls} without
     * tools are refused as OpenAI refuses them; the deprecated {@code functions}/{@code function_call} are refused with
     * what to send instead.
     */
    static ChatTools parse(JsonObject body) {
        for (String legacy : List.of("functions", "function_call")) {
            if (Fields.given(body, legacy)) {
                throw ApiException.badRequest(
                        "'" + legacy + "' is deprecated and not supported: send 'tools' (each function as "
                                + "{\"type\": \"function\", \"function\": {...}}) and 'tool_choice' instead",
                        legacy);
            }
        }
        JsonValue v = Fields.value(body, "tools");
        if (v == null) {
            for (String dependent : List.of("tool_choice", "parallel_tool_calls")) {
                if (Fields.given(body, dependent)) {
                    throw ApiException.badRequest(
                            "'" + dependent + "' is only allowed when 'tools' are specified", dependent);
                }
            }
            return null;
        }
        if (v.getValueType() != JsonValue.ValueType.ARRAY) {
            throw ApiException.badRequest("'tools' must be an array, got " + Fields.typeName(v), "tools");
        }
        JsonArray array = v.asJsonArray();
        if (array.isEmpty()) {
            throw ApiException.badRequest("'tools' must contain at least one tool (leave it out for none)", "tools");
        }
        if (array.size() > MAX_TOOLS) {
            throw ApiException.badRequest(
                    "'tools' has " + array.size() + " tools, more than the " + MAX_TOOLS + " allowed", "tools");
        }
        List<Map<String, Object>> definitions = new ArrayList<>();
        Map<String, Function> functions = new LinkedHashMap<>();
        long chars = 0;
        for (int i = 0; i < array.size(); i++) {
            String where = "tools[" + i + "]";
            JsonValue item = array.get(i);
            if (item.getValueType() != JsonValue.ValueType.OBJECT) {
                throw ApiException.badRequest("'" + where + "' must be an object, got " + Fields.typeName(item), where);
            }
            JsonObject tool = item.asJsonObject();
            String type = Fields.string(tool, "type", where + ".type");
            if (!"function".equals(type)) {
                throw ApiException.badRequest(
                        "'" + where + ".type' must be 'function', got " + (type == null ? "nothing" : "'" + type + "'"),
                        where + ".type");
            }
            JsonObject function = Fields.object(tool, "function", where + ".function");
            if (function == null) {
                throw ApiException.badRequest("'" + where + ".function' is required", where + ".function");
            }
            String name = name(function, where + ".function.name");
            if (functions.containsKey(name)) {
                throw ApiException.badRequest(
                        "'" + where + ".function.name': the function '" + name + "' is declared twice",
                        where + ".function.name");
            }
            String description = Fields.string(function, "description", where + ".function.description");
            if (description != null && description.length() > MAX_DESCRIPTION_CHARS) {
                throw ApiException.badRequest(
                        "'" + where + ".function.description' has " + description.length()
                                + " characters, more than the " + MAX_DESCRIPTION_CHARS + " allowed",
                        where + ".function.description");
            }
            Boolean strict = Fields.bool(function, "strict", where + ".function.strict");
            String param = where + ".function.parameters";
            JsonObject parameters = Fields.object(function, "parameters", param);
            String schema = parameters == null ? "{}" : parameters.toString();
            if (parameters != null) {
                if (schema.length() > MAX_SCHEMA_CHARS) {
                    throw ApiException.badRequest(
                            "'" + param + "' has " + schema.length() + " characters of JSON, more than the "
                                    + MAX_SCHEMA_CHARS + " allowed",
                            param);
                }
                int depth = depth(parameters);
                if (depth > MAX_DEPTH) {
                    throw ApiException.badRequest(
                            "'" + param + "' nests " + depth + " levels deep, more than the " + MAX_DEPTH + " allowed",
                            param);
                }
                String type2 = Fields.string(parameters, "type", param + ".type");
                if (type2 != null && !type2.equals("object")) {
                    throw ApiException.badRequest(
                            "'" + param + ".type' must be 'object' (a function's arguments are a JSON object), got '"
                                    + type2 + "'",
                            param + ".type");
                }
                try {
                    JsonOutputRequirement.schema(name, schema); // a valid JSON Schema, its patterns RE2-compilable
                } catch (IllegalArgumentException e) {
                    throw ApiException.badRequest("'" + param + "': " + e.getMessage(), param);
                }
                try {
                    // The calls' arguments are generated under this schema's grammar: what it cannot express is
                    // refused.
                    JsonSchemaGrammar.rules(Json.parse(schema), "args");
                } catch (JsonSchemaGrammar.SchemaException e) {
                    throw ApiException.badRequest(
                            "'" + param + "' cannot be enforced while the arguments are generated: " + e.getMessage(),
                            param);
                }
            }
            chars += schema.length() + (description == null ? 0 : description.length()) + name.length();
            if (chars > MAX_TOOLS_CHARS) {
                throw ApiException.badRequest(
                        "'tools' hold more than " + MAX_TOOLS_CHARS + " characters of names, descriptions and "
                                + "parameter schemas",
                        "tools");
            }
            Map<String, Object> fn = new LinkedHashMap<>();
            fn.put("name", name);
            if (description != null) fn.put("description", description);
            if (parameters != null) fn.put("parameters", java(parameters));
            if (strict != null) fn.put("strict", strict);
            Map<String, Object> definition = new LinkedHashMap<>();
            definition.put("type", "function");
            definition.put("function", fn);
            definitions.add(definition);
            functions.put(name, new Function(name, schema, Boolean.TRUE.equals(strict)));
        }
        Boolean parallel = Fields.bool(body, "parallel_tool_calls", "parallel_tool_calls");
        return new ChatTools(
                List.copyOf(definitions),
                java.util.Collections.unmodifiableMap(functions),
                choice(body, functions.keySet()),
                parallel == null || parallel,
                chars);
    }

    private static Choice choice(JsonObject body, Set<String> names) {
        JsonValue v = Fields.value(body, "tool_choice");
        if (v == null) return Choice.AUTO;
        if (v.getValueType() == JsonValue.ValueType.STRING) {
            return switch (((JsonString) v).getString()) {
                case "none" -> Choice.NONE;
                case "auto" -> Choice.AUTO;
                case "required" -> new Choice(Choice.Mode.REQUIRED, null);
                default ->
                    throw ApiException.badRequest(
                            "'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", "
                                    + "\"function\": {\"name\": ...}}; got '" + ((JsonString) v).getString() + "'",
                            "tool_choice");
            };
        }
        if (v.getValueType() != JsonValue.ValueType.OBJECT) {
            throw ApiException.badRequest(
                    "'tool_choice' must be a string or an object, got " + Fields.typeName(v), "tool_choice");
        }
        JsonObject o = v.asJsonObject();
        String type = Fields.string(o, "type", "tool_choice.type");
        if (!"function".equals(type)) {
            throw ApiException.badRequest(
                    "'tool_choice.type' must be 'function', got " + (type == null ? "nothing" : "'" + type + "'"),
                    "tool_choice.type");
        }
        JsonObject function = Fields.object(o, "function", "tool_choice.function");
        if (function == null) {
            throw ApiException.badRequest("'tool_choice.function' is required", "tool_choice.function");
        }
        String name = name(function, "tool_choice.function.name");
        if (!names.contains(name)) {
            throw ApiException.badRequest(
                    "'tool_choice.function.name': no tool named '" + name + "' is declared in 'tools'",
                    "tool_choice.function.name");
        }
        return new Choice(Choice.Mode.FUNCTION, name);
    }

    private static String name(JsonObject function, String param) {
        String name = Fields.string(function, "name", param);
        if (name == null) throw ApiException.badRequest("'" + param + "' is required", param);
        if (!NAME.matcher(name).matches()) {
            throw ApiException.badRequest(
                    "'" + param + "' must be 1 to 64 characters of a-z, A-Z, 0-9, underscores and dashes, got '"
                            + (name.length() > 80 ? name.substring(0, 80) + "..." : name) + "'",
                    param);
        }
        return name;
    }

    // ---- tool parts of messages

    /** The {@code tool_calls} of an assistant message at {@code where}; empty when it has none. */
    static List<ChatMessage.ToolCall> toolCalls(JsonObject message, String where) {
        JsonValue v = Fields.value(message, "tool_calls");
        if (v == null) return List.of();
        String param = where + ".tool_calls";
        if (v.getValueType() != JsonValue.ValueType.ARRAY) {
            throw ApiException.badRequest("'" + param + "' must be an array, got " + Fields.typeName(v), param);
        }
        JsonArray array = v.asJsonArray();
        if (array.size() > MAX_CALLS_PER_MESSAGE) {
            throw ApiException.badRequest(
                    "'" + param + "' has " + array.size() + " calls, more than the " + MAX_CALLS_PER_MESSAGE
                            + " allowed",
                    param);
        }
        List<ChatMessage.ToolCall> calls = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            String at = param + "[" + i + "]";
            JsonValue item = array.get(i);
            if (item.getValueType() != JsonValue.ValueType.OBJECT) {
                throw ApiException.badRequest("'" + at + "' must be an object, got " + Fields.typeName(item), at);
            }
            JsonObject call = item.asJsonObject();
            String id = id(call, "id", at + ".id");
            String type = Fields.string(call, "type", at + ".type");
            if (type != null && !type.equals("function")) {
                throw ApiException.badRequest("'" + at + ".type' must be 'function', got '" + type + "'", at + ".type");
            }
            JsonObject function = Fields.object(call, "function", at + ".function");
            if (function == null) throw ApiException.badRequest("'" + at + ".function' is required", at + ".function");
            String name = name(function, at + ".function.name");
            String argsParam = at + ".function.arguments";
            String arguments = Fields.string(function, "arguments", argsParam);
            if (arguments == null) throw ApiException.badRequest("'" + argsParam + "' is required", argsParam);
            calls.add(new ChatMessage.ToolCall(id, name, arguments(arguments, argsParam)));
        }
        return List.copyOf(calls);
    }

    /** A message's call id field ({@code tool_call_id}, or {@code id} of a call): required, bounded. */
    static String id(JsonObject o, String key, String param) {
        String id = Fields.string(o, key, param);
        if (id == null || id.isEmpty()) throw ApiException.badRequest("'" + param + "' is required", param);
        if (id.length() > MAX_ID_CHARS) {
            throw ApiException.badRequest(
                    "'" + param + "' has " + id.length() + " characters, more than the " + MAX_ID_CHARS + " allowed",
                    param);
        }
        return id;
    }

    /**
     * A call's arguments as a template sees them: OpenAI sends them as JSON text, which must be an object within the
     * bounds (its nesting is not covered by the body's depth limit, being a string there).
     */
    static Map<String, Object> arguments(String json, String param) {
        if (json.length() > MAX_ARGUMENTS_CHARS) {
            throw ApiException.badRequest(
                    "'" + param + "' has " + json.length() + " characters, more than the " + MAX_ARGUMENTS_CHARS
                            + " allowed",
                    param);
        }
        JsonValue value;
        try (var reader = jakarta.json.Json.createReader(new StringReader(json))) {
            value = reader.readValue();
        } catch (jakarta.json.JsonException | IllegalStateException e) {
            throw ApiException.badRequest(
                    "'" + param + "' must be a JSON object as text, and is not valid JSON", param);
        }
        if (value.getValueType() != JsonValue.ValueType.OBJECT) {
            throw ApiException.badRequest(
                    "'" + param + "' must be a JSON object as text, got " + Fields.typeName(value), param);
        }
        int depth = depth(value);
        if (depth > MAX_DEPTH) {
            throw ApiException.badRequest(
                    "'" + param + "' nests " + depth + " levels deep, more than the " + MAX_DEPTH + " allowed", param);
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> map = (Map<String, Object>) java(value);
        return map;
    }

    /** Nesting depth of a JSON value (a scalar is 0), without recursion past {@link #MAX_DEPTH} + 1. */
    static int depth(JsonValue root) {
        int max = 0;
        List<JsonValue> level = List.of(root);
        for (int d = 1; !level.isEmpty() && d <= MAX_DEPTH + 1; d++) {
            List<JsonValue> next = new ArrayList<>();
            boolean containers = false;
            for (JsonValue v : level) {
                if (v instanceof JsonObject o) {
                    containers = true;
                    next.addAll(o.values());
                } else if (v instanceof JsonArray a) {
                    containers = true;
                    next.addAll(a);
                }
            }
            if (!containers) break;
            max = d;
            level = next;
        }
        return max;
    }

    /**
     * A JSON value as the template engine reads it: maps in key order, lists, strings, integers as {@code Long} (or
     * {@code BigInteger}), other numbers as {@code Double}, booleans, null.
     */
    static Object java(JsonValue v) {
        return switch (v.getValueType()) {
            case OBJECT -> {
                Map<String, Object> map = new LinkedHashMap<>();
                v.asJsonObject().forEach((k, x) -> map.put(k, java(x)));
                yield map;
            }
            case ARRAY -> {
                List<Object> list = new ArrayList<>();
                for (JsonValue x : v.asJsonArray()) list.add(java(x));
                yield list;
            }
            case STRING -> ((JsonString) v).getString();
            case NUMBER -> {
                JsonNumber n = (JsonNumber) v;
                if (n.isIntegral()) {
                    try {
                        yield n.longValueExact();
                    } catch (ArithmeticException e) {
                        yield n.bigIntegerValue();
                    }
                }
                yield n.doubleValue();
            }
            case TRUE -> true;
            case FALSE -> false;
            case NULL -> null;
        };
    }

    /** At most how many calls an answer may hold. */
    int maxCalls() {
        return parallel ? MAX_CALLS_PER_MESSAGE : 1;
    }
}
