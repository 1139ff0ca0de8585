package dev.anvil.api.openai;

import jakarta.json.bind.annotation.JsonbProperty;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/**
 * The OpenAPI description of {@code POST /v1/chat/completions}'s body and answer. The resource reads the body as JSON
 * itself ({@link ChatRequest}, which decides what is valid); these records only document the shape, OpenAI's.
 */
final class ChatCompletionSchemas {

    private ChatCompletionSchemas() {}

    @Schema(
            name = "ChatCompletionRequest",
            description = "OpenAI's chat completion request (the fields Anvil reads; see docs/USAGE.md)")
    record Request(
            @Schema(required = true, description = "name (its PRODUCTION version) or name@version")
            String model,

            @Schema(required = true) List<Message> messages,

            @Schema(description = "Answer as text/event-stream chunks")
            Boolean stream,

            @JsonbProperty("max_tokens") Integer maxTokens,
            @JsonbProperty("max_completion_tokens") Integer maxCompletionTokens,
            Double temperature,
            @JsonbProperty("top_p") Double topP,
            Long seed,
            Integer n,

            @Schema(description = "Up to 4 stop strings", type = SchemaType.ARRAY, implementation = String.class)
            Object stop,

            @Schema(description = "Functions the model may call (at most 128)")
            List<Tool> tools,

            @JsonbProperty("tool_choice")
            @Schema(
                    description = "\"none\", \"auto\" (default with tools), \"required\", or "
                            + "{\"type\": \"function\", \"function\": {\"name\": ...}}",
                    oneOf = {String.class, NamedToolChoice.class})
            Object toolChoice,

            @JsonbProperty("parallel_tool_calls")
            @Schema(description = "Whether an answer may hold more than one call (default true)")
            Boolean parallelToolCalls,

            @JsonbProperty("response_format")
            @Schema(description = "{\"type\": \"text\" | \"json_object\" | \"json_schema\", \"json_schema\": {...}}")
            Map<String, Object> responseFormat) {}

    @Schema(name = "ChatMessage")
    record Message(
            @Schema(
                    required = true,
                    enumeration = {"system", "developer", "user", "assistant", "tool"})
            String role,

            @Schema(
                    nullable = true,
                    description = "Text, or an array of text parts; null on an assistant turn that only calls tools")
            Object content,

            @JsonbProperty("tool_calls") @Schema(description = "An assistant turn's calls")
            List<ToolCall> toolCalls,

            @JsonbProperty("tool_call_id") @Schema(description = "On a tool message: the id of the call it answers")
            String toolCallId) {}

    @Schema(name = "ChatTool")
    record Tool(
            @Schema(required = true, enumeration = "function")
            String type,

            @Schema(required = true) Function function) {}

    @Schema(name = "ChatFunction")
    record Function(
            @Schema(required = true, pattern = "^[a-zA-Z0-9_-]{1,64}$")
            String name,

            String description,

            @Schema(description = "JSON Schema of the arguments (an object)")
            Map<String, Object> parameters,

            Boolean strict) {}

    @Schema(name = "ChatNamedToolChoice")
    record NamedToolChoice(@Schema(enumeration = "function") String type, FunctionName function) {}

    record FunctionName(String name) {}

    @Schema(name = "ChatToolCall")
    record ToolCall(
            @Schema(description = "call_ and 24 alphanumerics")
            String id,

            @Schema(enumeration = "function") String type,
            FunctionCall function) {}

    @Schema(name = "ChatFunctionCall")
    record FunctionCall(
            String name,

            @Schema(description = "The arguments as JSON text")
            String arguments) {}

    @Schema(name = "ChatCompletion", description = "The answer when not streamed (object chat.completion)")
    record Completion(
            String id,

            @Schema(enumeration = {"chat.completion", "chat.completion.chunk"})
            String object,

            long created,
            String model,
            List<Choice> choices,
            Map<String, Object> usage) {}

    @Schema(name = "ChatChoice")
    record Choice(
            int index,
            AssistantMessage message,

            @JsonbProperty("finish_reason") @Schema(enumeration = {"stop", "length", "tool_calls", "content_filter"})
            String finishReason) {}

    @Schema(name = "ChatAssistantMessage")
    record AssistantMessage(
            String role,

            @Schema(nullable = true, description = "Null when the answer is only tool calls")
            String content,

            @JsonbProperty("tool_calls") List<ToolCall> toolCalls) {}
}
