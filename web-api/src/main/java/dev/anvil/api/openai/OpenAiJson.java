package dev.anvil.api.openai;

import jakarta.json.bind.Jsonb;
import jakarta.json.bind.JsonbBuilder;
import jakarta.json.bind.JsonbConfig;
import jakarta.json.bind.annotation.JsonbNillable;
import jakarta.json.bind.annotation.JsonbProperty;
import java.util.List;
import java.util.Map;

/**
 * The response shapes of the OpenAI API, as JSON-B records, written by {@link #toJson} with null values included:
 * OpenAI always sends {@code logprobs}, {@code finish_reason}, {@code system_fingerprint} and (in streams with
 * usage) {@code usage}, even as {@code null}, and clients rely on the keys. Renamed components need
 * {@code @JsonbNillable} as well: the deprecated {@code nillable = false} of {@code @JsonbProperty} overrides the
 * configuration. Shapes where OpenAI omits a key instead
 * (the chat {@code delta}) are separate records without that component.
 */
public final class OpenAiJson {

    /** Thread-safe; own instance so that null handling does not depend on the JAX-RS provider's configuration. */
    private static final Jsonb JSONB = JsonbBuilder.create(new JsonbConfig().withNullValues(true));

    private OpenAiJson() {}

    public static String toJson(Object value) {
        return JSONB.toJson(value);
    }

    /** {@code prompt_tokens_details.cached_tokens}: prompt tokens served from the prefix cache, as OpenAI reports it. */
    public record Usage(
            @JsonbProperty("prompt_tokens") int promptTokens,
            @JsonbProperty("completion_tokens") int completionTokens,
            @JsonbProperty("total_tokens") int totalTokens,

            @JsonbNillable @JsonbProperty("prompt_tokens_details")
            PromptTokensDetails promptTokensDetails) {
        static Usage of(int prompt, int completion) {
            return of(prompt, completion, 0);
        }

        static Usage of(int prompt, int completion, int cached) {
            return new Usage(prompt, completion, prompt + completion, new PromptTokensDetails(cached));
        }
    }

    public record PromptTokensDetails(
            @JsonbProperty("cached_tokens") int cachedTokens) {}

    /**
     * What every generation answer is: a text completion ({@code text_completion}, choices {@link CompletionChoice}),
     * a chat completion ({@code chat.completion}, {@link ChatChoice}) or a chat stream chunk
     * ({@code chat.completion.chunk}, {@link ChatChunkChoice}); {@code object} names which.
     */
    public record Answer<C>(
            String id,
            String object,
            long created,
            String model,

            @JsonbNillable @JsonbProperty("system_fingerprint")
            String systemFingerprint,

            List<C> choices,
            Usage usage) {}

    // ---- /v1/completions

    public record CompletionChoice(
            String text,
            int index,
            CompletionLogprobs logprobs,
            @JsonbNillable @JsonbProperty("finish_reason") String finishReason) {}

    /** The legacy completions logprobs object: parallel arrays, one entry per token. */
    public record CompletionLogprobs(
            List<String> tokens,
            @JsonbProperty("token_logprobs") List<Float> tokenLogprobs,
            @JsonbProperty("top_logprobs") List<Map<String, Float>> topLogprobs,
            @JsonbProperty("text_offset") List<Integer> textOffset) {}

    // ---- /v1/chat/completions

    /** {@code message} is a {@link Message} or a {@link ToolCallMessage}. */
    public record ChatChoice(
            int index,
            Object message,
            ChatLogprobs logprobs,
            @JsonbNillable @JsonbProperty("finish_reason") String finishReason) {}

    public record Message(String role, String content) {}

    /** An assistant message that calls tools: {@code content} is the text beside the calls, or null. */
    public record ToolCallMessage(
            String role,
            @JsonbNillable String content,
            @JsonbProperty("tool_calls") List<ToolCall> toolCalls) {}

    /** One call: {@code type} is {@code function}; the arguments are JSON text, as OpenAI sends them. */
    public record ToolCall(String id, String type, FunctionCall function) {}

    public record FunctionCall(String name, String arguments) {}

    /** A streamed piece of the assistant's tool calls: {@code tool_calls} holds one {@link ToolCallStart} or {@link ToolCallArguments}. */
    public record ToolCallsDelta(
            @JsonbProperty("tool_calls") List<Object> toolCalls) {}

    /** The first delta of a call: its index among the answer's calls, id, type, name and empty arguments. */
    public record ToolCallStart(int index, String id, String type, FunctionCall function) {}

    /** A later delta of call {@code index}: more of its arguments. */
    public record ToolCallArguments(int index, ArgumentsFragment function) {}

    public record ArgumentsFragment(String arguments) {}

    public record ChatLogprobs(List<ChatTokenLogprob> content) {}

    public record ChatTokenLogprob(
            String token,
            float logprob,
            int[] bytes,
            @JsonbProperty("top_logprobs") List<ChatTopLogprob> topLogprobs) {}

    public record ChatTopLogprob(String token, float logprob, int[] bytes) {}

    /** {@code delta} is a {@link Delta}, {@link ContentDelta} or {@link EmptyDelta}. */
    public record ChatChunkChoice(
            int index,
            Object delta,
            ChatLogprobs logprobs,
            @JsonbNillable @JsonbProperty("finish_reason") String finishReason) {}

    /** The first streamed piece of the assistant message: its role (and empty content). */
    public record Delta(String role, String content) {}

    /** A streamed piece of the assistant message's text. */
    public record ContentDelta(String content) {}

    /** The delta of the last chunk of a choice, which only carries the finish reason: {@code {}}. */
    public record EmptyDelta() {}

    // ---- /v1/models

    public record Model(
            String id,
            String object,
            long created,
            @JsonbProperty("owned_by") String ownedBy) {}

    public record ModelList(String object, List<Model> data) {}
}
