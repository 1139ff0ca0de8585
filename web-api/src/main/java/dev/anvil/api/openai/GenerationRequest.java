package dev.anvil.api.openai;

import dev.anvil.engine.GrammarConstraint;
import dev.anvil.guardrails.JsonOutputRequirement;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import java.util.List;
import java.util.function.Function;

/**
 * A parsed {@code /v1} generation request as {@link GenerationPipeline} runs it: the part that differs between
 * {@code /v1/completions} and {@code /v1/chat/completions} (how the prompts are given, read for the input
 * guardrails and turned into tokens; the OpenAI shape of the answer). The stages and their order are the
 * pipeline's, the same for both.
 */
interface GenerationRequest {

    /**
     * The prompts to generate from, for whichever version answers (a fallback model has its own tokenizer and chat
     * template).
     *
     * @param tokensFor  the prompts as tokens of the given version
     * @param texts      per prompt, the text a completion with {@code echo} repeats ({@code ""} where nothing is)
     * @param grammarFor the grammar the given version's output must follow (chat tool calls: the call syntax is the
     *                   version's), or null for none
     */
    record Prompts(
            Function<ServedModel, List<int[]>> tokensFor,
            List<String> texts,
            Function<ServedModel, GrammarConstraint> grammarFor) {
        public Prompts {
            texts = List.copyOf(texts);
            if (grammarFor == null) grammarFor = m -> null;
        }

        Prompts(Function<ServedModel, List<int[]>> tokensFor, List<String> texts) {
            this(tokensFor, texts, null);
        }
    }

    /**
     * The generation endpoints.
     *
     * @param idPrefix    the prefix of a response id
     * @param promptParam the request field that holds the prompt: errors about the prompt name it
     */
    enum Endpoint {
        COMPLETIONS("cmpl-", "prompt"),
        CHAT("chatcmpl-", "messages");

        final String idPrefix;
        final String promptParam;

        Endpoint(String idPrefix, String promptParam) {
            this.idPrefix = idPrefix;
            this.promptParam = promptParam;
        }
    }

    Endpoint endpoint();

    /** The fields both endpoints share, as parsed (before experiment routing). */
    GenerationOptions options();

    /** The JSON output the request asked for (checked by the output guardrails), or null. */
    default JsonOutputRequirement jsonOutput() {
        return null;
    }

    /** The grammar the output must follow ({@code grammar}, {@code response_format} JSON), or null. */
    default RequestGrammar grammar() {
        return null;
    }

    /** Alternatives per token to report with log-probabilities, or null for none. */
    Integer logprobs();

    /**
     * Whether the caller's texts are all that tells two of these requests' prompts apart, so that the semantic cache
     * may answer one with the other's generation when the texts mean the same. False where more is rendered into the
     * prompt than those texts (a chat request's tool definitions and calls).
     */
    default boolean promptIsCallerText() {
        return true;
    }

    /**
     * The caller's texts the input guardrails check, in prompt order, read with the resolved model (token prompts
     * can only be read with its tokenizer).
     */
    List<String> inputTexts(ServedModel resolved);

    /**
     * The prompts once the input guardrails passed them.
     *
     * @param resolved the version routing chose
     * @param routed   the options as routing left them (a variant's parameters, its system prompt)
     * @param given    what {@link #inputTexts} returned
     * @param checked  the same texts as the guardrails passed them (redacted where the policy says so)
     */
    Prompts prompts(ServedModel resolved, GenerationOptions routed, List<String> given, List<String> checked);

    /** The plain answer's JSON body. */
    Object body(Submission submission, List<GenerationResult> results);

    /** The stream's chunks. */
    SseStream.ChunkFormat chunks(Submission submission);
}
