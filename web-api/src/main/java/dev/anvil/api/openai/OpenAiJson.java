package dev.anvil.api.openai;

import jakarta.json.bind.annotation.JsonbNillable;
import jakarta.json.bind.annotation.JsonbProperty;
import java.util.List;
import java.util.Map;

/**
 * The response shapes of the OpenAI API, as JSON-B records. Fields OpenAI always sends, even as {@code null}
 * ({@code logprobs}, {@code finish_reason}), live in {@link JsonbNillable} records; elsewhere null means "omit".
 * A component renamed with {@code @JsonbProperty} needs its own {@code @JsonbNillable}: the rename's (deprecated)
 * {@code nillable = false} default would otherwise win over the record's.
 */
public final class OpenAiJson {

    private OpenAiJson() {
    }

    public record Usage(@JsonbProperty("prompt_tokens") int promptTokens,
                        @JsonbProperty("completion_tokens") int completionTokens,
                        @JsonbProperty("total_tokens") int totalTokens) {
        static Usage of(int prompt, int completion) {
            return new Usage(prompt, completion, prompt + completion);
        }
    }

    // ---- /v1/completions

    public record Completion(String id, String object, long created, String model,
                             @JsonbProperty("system_fingerprint") String systemFingerprint,
                             List<CompletionChoice> choices, Usage usage) {
    }

    @JsonbNillable
    public record CompletionChoice(String text, int index, CompletionLogprobs logprobs,
                                   @JsonbNillable @JsonbProperty("finish_reason") String finishReason) {
    }

    /** The legacy completions logprobs object: parallel arrays, one entry per token. */
    public record CompletionLogprobs(List<String> tokens,
                                     @JsonbProperty("token_logprobs") List<Float> tokenLogprobs,
                                     @JsonbProperty("top_logprobs") List<Map<String, Float>> topLogprobs,
                                     @JsonbProperty("text_offset") List<Integer> textOffset) {
    }

    // ---- /v1/chat/completions

    public record ChatCompletion(String id, String object, long created, String model,
                                 @JsonbProperty("system_fingerprint") String systemFingerprint,
                                 List<ChatChoice> choices, Usage usage) {
    }

    @JsonbNillable
    public record ChatChoice(int index, Message message, ChatLogprobs logprobs,
                             @JsonbNillable @JsonbProperty("finish_reason") String finishReason) {
    }

    public record Message(String role, String content) {
    }

    public record ChatLogprobs(List<ChatTokenLogprob> content) {
    }

    public record ChatTokenLogprob(String token, float logprob, int[] bytes,
                                   @JsonbProperty("top_logprobs") List<ChatTopLogprob> topLogprobs) {
    }

    public record ChatTopLogprob(String token, float logprob, int[] bytes) {
    }

    public record ChatChunk(String id, String object, long created, String model,
                            @JsonbProperty("system_fingerprint") String systemFingerprint,
                            List<ChatChunkChoice> choices, Usage usage) {
    }

    @JsonbNillable
    public record ChatChunkChoice(int index, Delta delta, ChatLogprobs logprobs,
                                  @JsonbNillable @JsonbProperty("finish_reason") String finishReason) {
    }

    /** A streamed piece of the assistant message: the role in the first chunk, then content. */
    public record Delta(String role, String content) {
    }

    // ---- /v1/models

    public record Model(String id, String object, long created, @JsonbProperty("owned_by") String ownedBy) {
    }

    public record ModelList(String object, List<Model> data) {
    }
}
