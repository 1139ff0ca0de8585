package dev.anvil.serving.chat;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One message of a conversation as chat templates see it: OpenAI's message shape, which is also what Hugging Face
 * templates read ({@code message.tool_calls}, {@code message.tool_call_id}, {@code message.name}).
 *
 * @param role       {@code system}, {@code user}, {@code assistant} or {@code tool}
 * @param content    the message text (text parts of a multi-part message already joined; {@code ""} for an assistant
 *                   turn that only calls tools)
 * @param toolCalls  the tools an assistant turn calls (empty: none; the template then sees no {@code tool_calls})
 * @param toolCallId on a {@code tool} message, the id of the call it answers (null: absent)
 * @param name       on a {@code tool} message, the function's name (null: absent)
 */
public record ChatMessage(String role, String content, List<ToolCall> toolCalls, String toolCallId, String name) {

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
    }

    /** A message with text only. */
    public ChatMessage(String role, String content) {
        this(role, content, List.of(), null, null);
    }

    /**
     * A function call of an assistant turn. Templates see it the way Hugging Face passes it:
     * {@code {"id": ..., "type": "function", "function": {"name": ..., "arguments": {...}}}}, the arguments as a JSON
     * object (a map, in the order the caller gave), not as the JSON text OpenAI clients send.
     *
     * @param id        the call's id (null: absent)
     * @param name      the function called
     * @param arguments the arguments, JSON values (maps, lists, strings, numbers, booleans, null)
     */
    public record ToolCall(String id, String name, Map<String, Object> arguments) {

        public ToolCall {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(arguments, "arguments");
        }
    }
}
