package dev.anvil.api.openai;

import java.util.List;

/**
 * The chunks of a submission's stream: each chunk is one of its answers of OpenAI type {@code object} around one
 * choice, and the {@code include_usage} chunk is one around none. The endpoint says what a choice is.
 *
 * @param <C> the endpoint's chunk choice
 */
abstract class AnswerChunks<C> implements SseStream.ChunkFormat {

    final Submission submission;
    private final String object;

    AnswerChunks(Submission submission, String object) {
        this.submission = submission;
        this.object = object;
    }

    @Override
    public final Object usage(int promptTokens, int completionTokens, int cachedTokens) {
        return submission.answer(object, List.of(), OpenAiJson.Usage.of(promptTokens, completionTokens, cachedTokens));
    }

    /** A chunk with one choice and no usage. */
    final Object chunk(C choice) {
        return submission.answer(object, List.of(choice), null);
    }
}
