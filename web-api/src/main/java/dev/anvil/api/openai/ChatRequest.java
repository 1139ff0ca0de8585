package dev.anvil.api.openai;

import dev.anvil.api.ApiException;
import dev.anvil.guardrails.JsonOutputRequirement;
import dev.anvil.serving.chat.ChatMessage;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A validated {@code POST /v1/chat/completions} body.
 *
 * @param options     the shared generation fields ({@code max_completion_tokens} takes precedence over {@code max_tokens})
 * @param messages    the conversation; roles system, user, assistant ({@code developer} is read as system)
 * @param logprobs    whether to report each token's log probability
 * @param topLogprobs alternatives per token (0..20) when {@code logprobs}
 * @param jsonOutput  what {@code response_format} asks for ({@code json_object} or {@code json_schema}), or null
 *                    for text; checked by the {@code json_output} guardrail
 * @param grammar     the grammar decoding enforces: {@code response_format}'s JSON, or the {@code grammar} extension
 * @param tools       the tools the model may call ({@code tools}, {@code tool_choice}, {@code parallel_tool_calls}), or
 *                    null when the request declares none
 */
record ChatRequest(
        GenerationOptions options,
        List<ChatMessage> messages,
        boolean logprobs,
        int topLogprobs,
        JsonOutputRequirement jsonOutput,
        RequestGrammar grammar,
        ChatTools tools) {

    /** The same request with other message contents (after input guardrails redacted them). */
    ChatRequest withContents(List<String> contents) {
        List<ChatMessage> changed = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            changed.add(new ChatMessage(m.role(), contents.get(i), m.toolCalls(), m.toolCallId(), m.name()));
        }
        return new ChatRequest(options, List.copyOf(changed), logprobs, topLogprobs, jsonOutput, grammar, tools);
    }

    private static final Set<String> ROLES = Set.of("system", "user", "assistant", "developer", "tool");

    static ChatRequest parse(JsonObject body) {
        GenerationOptions options = GenerationOptions.parse(body, List.of("max_completion_tokens", "max_tokens"));
        boolean logprobs = Boolean.TRUE.equals(Fields.bool(body, "logprobs", "logprobs"));
        Long top = Fields.integer(body, "top_logprobs", "top_logprobs");
        if (top != null) {
            if (top < 0 || top > 20) {
                throw ApiException.badRequest("'top_logprobs' must be between 0 and 20, got " + top, "top_logprobs");
            }
            if (!logprobs) {
                throw ApiException.badRequest("'top_logprobs' requires 'logprobs' to be true", "top_logprobs");
            }
        }
        ChatTools tools = ChatTools.parse(body);
        JsonOutputRequirement jsonOutput = responseFormat(body);
        if (jsonOutput != null && tools != null && tools.active()) {
            // The JSON output check reads the answer's text, which holds the calls in the model's own syntax.
            throw ApiException.badRequest(
                    "'response_format' " + jsonOutput.kind().wireName() + " cannot be combined with 'tools' unless "
                            + "'tool_choice' is 'none'; describe the JSON you want as a function's parameters instead",
                    "response_format");
        }
        RequestGrammar fromFormat = null;
        if (jsonOutput != null)
            fromFormat = jsonOutput.kind() == JsonOutputRequirement.Kind.JSON_OBJECT
                    ? RequestGrammar.jsonObject()
                    : RequestGrammar.jsonSchema(Fields.object(body, "response_format", "response_format")
                            .getJsonObject("json_schema")
                            .get("schema"));
        RequestGrammar grammar = RequestGrammar.of(body, fromFormat);
        if (grammar != null && fromFormat == null && tools != null && tools.active()) {
            // Tool calls are decoded under the tools' own grammar; a second one could only contradict it.
            throw ApiException.badRequest(
                    "'grammar' cannot be combined with 'tools' unless 'tool_choice' is 'none'", "grammar");
        }
        if (tools != null && tools.active() && logprobs && options.stream()) {
            throw ApiException.badRequest(
                    "streamed 'logprobs' cannot be combined with 'tools': text that may begin a tool call is held back "
                            + "until it is decided; ask without 'stream' or without 'logprobs'",
                    "logprobs");
        }
        return new ChatRequest(
                options, messages(body), logprobs, top == null ? 0 : top.intValue(), jsonOutput, grammar, tools);
    }

    /** OpenAI's {@code response_format}: {@code text} (default), {@code json_object}, or {@code json_schema}. */
    private static JsonOutputRequirement responseFormat(JsonObject body) {
        JsonObject format = Fields.object(body, "response_format", "response_format");
        if (format == null) return null;
        String type = Fields.string(format, "type", "response_format.type");
        if (type == null) throw ApiException.badRequest("'response_format.type' is required", "response_format.type");
        switch (type) {
            case "text" -> {
                return null;
            }
            case "json_object" -> {
                return JsonOutputRequirement.object();
            }
            case "json_schema" -> {
                JsonObject spec = Fields.object(format, "json_schema", "response_format.json_schema");
                if (spec == null) {
                    throw ApiException.badRequest(
                            "'response_format.json_schema' is required when the type is json_schema",
                            "response_format.json_schema");
                }
                String name = Fields.string(spec, "name", "response_format.json_schema.name");
                JsonValue schema = Fields.value(spec, "schema");
                if (schema == null) {
                    throw ApiException.badRequest(
                            "'response_format.json_schema.schema' is required", "response_format.json_schema.schema");
                }
                try {
                    return JsonOutputRequirement.schema(name, schema.toString());
                } catch (IllegalArgumentException e) {
                    throw ApiException.badRequest(
                            "'response_format.json_schema.schema': " + e.getMessage(),
                            "response_format.json_schema.schema");
                }
            }
            default ->
                throw ApiException.badRequest(
                        "'response_format.type' must be text, json_object or json_schema; got '" + type + "'",
                        "response_format.type");
        }
    }

    /**
     * This request with {@code options} from experiment routing; a variant's system prompt replaces the caller's
     * first system message, or leads the conversation when there is none.
     */
    ChatRequest routed(GenerationOptions routedOptions) {
        String system =
                routedOptions.route() == null ? null : routedOptions.route().systemPrompt();
        if (system == null)
            return new ChatRequest(routedOptions, messages, logprobs, topLogprobs, jsonOutput, grammar, tools);
        List<ChatMessage> adjusted = new ArrayList<>(messages);
        int first = -1;
        for (int i = 0; i < adjusted.size() && first < 0; i++)
            if (adjusted.get(i).role().equals("system")) first = i;
        if (first >= 0) adjusted.set(first, new ChatMessage("system", system));
        else adjusted.addFirst(new ChatMessage("system", system));
        return new ChatRequest(routedOptions, List.copyOf(adjusted), logprobs, topLogprobs, jsonOutput, grammar, tools);
    }

    private static List<ChatMessage> messages(JsonObject body) {
        JsonValue v = Fields.value(body, "messages");
        if (v == null) {
            throw ApiException.badRequest("'messages' is required", "messages");
        }
        if (v.getValueType() != JsonValue.ValueType.ARRAY) {
            throw ApiException.badRequest("'messages' must be an array, got " + Fields.typeName(v), "messages");
        }
        JsonArray array = v.asJsonArray();
        if (array.isEmpty()) {
            throw ApiException.badRequest("'messages' must contain at least one message", "messages");
        }
        List<ChatMessage> messages = new ArrayList<>(array.size());
        Map<String, String> callNames = new HashMap<>();
        for (int i = 0; i < array.size(); i++) {
            String where = "messages[" + i + "]";
            JsonValue item = array.get(i);
            if (item.getValueType() != JsonValue.ValueType.OBJECT) {
                throw ApiException.badRequest("'" + where + "' must be an object, got " + Fields.typeName(item), where);
            }
            JsonObject message = item.asJsonObject();
            String role = Fields.string(message, "role", where + ".role");
            if (role == null) {
                throw ApiException.badRequest("'" + where + ".role' is required", where + ".role");
            }
            if (!ROLES.contains(role)) {
                throw ApiException.badRequest(
                        "'" + where + ".role' must be one of system, developer, user, assistant, tool; got '" + role
                                + "'",
                        where + ".role");
            }
            if (Fields.given(message, "function_call") || role.equals("function")) {
                throw ApiException.badRequest(
                        "'" + where + ".function_call' is deprecated and not supported: send 'tool_calls'",
                        where + ".function_call");
            }
            List<ChatMessage.ToolCall> calls = List.of();
            if (role.equals("assistant")) {
                calls = ChatTools.toolCalls(message, where);
                for (ChatMessage.ToolCall c : calls) callNames.put(c.id(), c.name());
            } else if (Fields.given(message, "tool_calls")) {
                throw ApiException.badRequest(
                        "'" + where + ".tool_calls' is only allowed on assistant messages", where + ".tool_calls");
            }
            String content = content(message, role, where);
            if (role.equals("tool")) {
                String id = ChatTools.id(message, "tool_call_id", where + ".tool_call_id");
                // Templates that name the function of a result (message.name) get the name of the call it answers.
                messages.add(new ChatMessage("tool", content, List.of(), id, callNames.get(id)));
            } else {
                messages.add(new ChatMessage(role.equals("developer") ? "system" : role, content, calls, null, null));
            }
        }
        return List.copyOf(messages);
    }

    private static String content(JsonObject message, String role, String where) {
        JsonValue content = Fields.value(message, "content");
        if (content == null) {
            // An assistant turn may carry no text (one that only calls tools has content null).
            if (role.equals("assistant")) return "";
            throw ApiException.badRequest("'" + where + ".content' is required", where + ".content");
        }
        if (content.getValueType() == JsonValue.ValueType.STRING) {
            return ((JsonString) content).getString();
        }
        if (content.getValueType() != JsonValue.ValueType.ARRAY) {
            throw ApiException.badRequest(
                    "'" + where + ".content' must be a string or an array of content parts, got "
                            + Fields.typeName(content),
                    where + ".content");
        }
        StringBuilder text = new StringBuilder();
        JsonArray parts = content.asJsonArray();
        for (int p = 0; p < parts.size(); p++) {
            String partWhere = where + ".content[" + p + "]";
            JsonValue part = parts.get(p);
            if (part.getValueType() != JsonValue.ValueType.OBJECT) {
                throw ApiException.badRequest(
                        "'" + partWhere + "' must be an object, got " + Fields.typeName(part), partWhere);
            }
            String type = Fields.string(part.asJsonObject(), "type", partWhere + ".type");
            if (!"text".equals(type)) {
                throw ApiException.badRequest(
                        "'" + partWhere + ".type' must be 'text' (only text content is supported), got "
                                + (type == null ? "nothing" : "'" + type + "'"),
                        partWhere + ".type");
            }
            String partText = Fields.string(part.asJsonObject(), "text", partWhere + ".text");
            if (partText == null) {
                throw ApiException.badRequest("'" + partWhere + ".text' is required", partWhere + ".text");
            }
            // Parts are concatenated without separators, as OpenAI does for text-only content.
            text.append(partText);
        }
        return text.toString();
    }
}
