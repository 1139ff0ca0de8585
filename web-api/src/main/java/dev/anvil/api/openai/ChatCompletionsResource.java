package dev.anvil.api.openai;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.api.security.ApiKeyAccess;
import dev.anvil.guardrails.JsonOutputRequirement;
import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import dev.anvil.serving.TokenLogprob;
import dev.anvil.serving.chat.ChatMessage;
import dev.anvil.serving.chat.ChatTemplate;
import dev.anvil.serving.chat.ChatTemplateException;
import dev.anvil.serving.chat.ChatTemplateLimits;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.container.AsyncResponse;
import jakarta.ws.rs.container.Suspended;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * {@code POST /v1/chat/completions}: the conversation is rendered with the model's chat template (or the
 * fallback transcript), tokenized with special tokens recognised, and generated like a completion.
 */
@Path("/v1/chat/completions")
@ApiKeyAccess
@SecurityRequirement(name = AnvilApplication.API_KEY_SECURITY)
@Tag(name = "openai", description = "OpenAI-compatible inference API")
public class ChatCompletionsResource {

    static final String OBJECT = "chat.completion";
    static final String CHUNK_OBJECT = "chat.completion.chunk";
    static final String ASSISTANT = "assistant";

    @Inject
    GenerationPipeline pipeline;

    @POST
    @Operation(
            summary = "Create a chat completion",
            description = "OpenAI-compatible chat completion; with \"stream\": true the answer is text/event-stream."
                    + " response_format json_object/json_schema is enforced while decoding (a schema keyword that"
                    + " cannot be compiled is a 400 naming it); extension: \"grammar\", a GBNF grammar (llama.cpp's"
                    + " format) the output must follow.")
    public void create(
            InputStream body,
            @HeaderParam(HttpHeaders.CONTENT_LENGTH) String contentLength,
            @Context HttpServletRequest servletRequest,
            @Suspended AsyncResponse async) {
        pipeline.generate(servletRequest, async, body, contentLength, json -> new Chat(ChatRequest.parse(json)));
    }

    /**
     * The conversation as the model's prompt text. A conversation larger than a template may see at all is the
     * client's to shorten (400); a template that refuses it by {@code raise_exception} is too (400). A template that
     * fails, or that the render limits stop, is the model file's fault: 500 with the reason, and nothing is queued.
     */
    static String render(ServedModel model, ChatRequest request) {
        ChatTemplate template =
                model.chatTemplate() != null ? model.chatTemplate() : ChatTemplate.forModel(null, model.tokenizer());
        ChatTemplateLimits limits = template.limits();
        if (request.messages().size() > limits.maxCollectionSize()) {
            throw ApiException.badRequest(
                    "'messages' has " + request.messages().size() + " messages, more than the "
                            + limits.maxCollectionSize() + " a chat template may be given ("
                            + ChatTemplateLimits.MAX_COLLECTION_SIZE + ")",
                    "messages");
        }
        long chars = 0;
        for (ChatMessage m : request.messages()) chars += m.content().length();
        if (chars > limits.maxOutputChars()) {
            throw ApiException.badRequest(
                    "the messages hold " + chars + " characters, more than the " + limits.maxOutputChars()
                            + " a chat prompt may have (" + ChatTemplateLimits.MAX_OUTPUT_CHARS + ")",
                    "messages");
        }
        try {
            return template.render(request.messages(), true);
        } catch (ChatTemplateException e) {
            switch (e.reason()) {
                case RAISED ->
                    throw ApiException.badRequest(
                            "the model's chat template rejected the messages: " + e.getMessage(), "messages");
                case LIMIT ->
                    throw new ApiException(
                            500,
                            ApiErrors.TYPE_SERVER,
                            "the chat template of model " + model.ref()
                                    + " was stopped by its render limits and nothing was generated: " + e.detail()
                                    + ". The template comes with the model file; ask the operator to replace the model",
                            null,
                            "chat_template_limit_exceeded");
                default ->
                    throw new ApiException(
                            500,
                            ApiErrors.TYPE_SERVER,
                            "the chat template of model " + model.ref() + " could not be rendered: " + e.getMessage(),
                            null,
                            "chat_template_error");
            }
        }
    }

    static OpenAiJson.Answer<OpenAiJson.ChatChoice> response(
            Submission s, ChatRequest request, List<GenerationResult> results) {
        GenerationResult result = results.getFirst();
        List<OpenAiJson.ChatChoice> choices = new ArrayList<>();
        for (GenerationResult.Choice c : result.choices()) {
            OpenAiJson.ChatLogprobs logprobs =
                    c.logprobs() == null ? null : Logprobs.chat(c.logprobs(), request.topLogprobs());
            choices.add(new OpenAiJson.ChatChoice(
                    c.index(),
                    new OpenAiJson.Message(ASSISTANT, c.text()),
                    logprobs,
                    c.finishReason().openAiName()));
        }
        return s.answer(
                OBJECT,
                choices,
                OpenAiJson.Usage.of(
                        result.usage().promptTokens(),
                        result.usage().completionTokens(),
                        result.usage().cachedTokens()));
    }

    /** Stream chunks: the role first (one chunk per choice), then content deltas, then the finish reason. */
    static final class Chunks extends AnswerChunks<OpenAiJson.ChatChunkChoice> {
        private final ChatRequest request;

        Chunks(Submission s, ChatRequest request) {
            super(s, CHUNK_OBJECT);
            this.request = request;
        }

        @Override
        public List<Object> opening() {
            List<Object> chunks = new ArrayList<>();
            for (int i = 0; i < submission.choices(); i++) {
                chunks.add(chunk(new OpenAiJson.ChatChunkChoice(i, new OpenAiJson.Delta(ASSISTANT, ""), null, null)));
            }
            return chunks;
        }

        @Override
        public Object delta(int index, String text, TokenLogprob logprob) {
            OpenAiJson.ChatLogprobs lp = logprob == null
                    ? null
                    : new OpenAiJson.ChatLogprobs(List.of(Logprobs.chatToken(logprob, request.topLogprobs())));
            return chunk(new OpenAiJson.ChatChunkChoice(index, new OpenAiJson.ContentDelta(text), lp, null));
        }

        @Override
        public Object finish(int index, FinishReason reason) {
            return chunk(new OpenAiJson.ChatChunkChoice(index, new OpenAiJson.EmptyDelta(), null, reason.openAiName()));
        }
    }

    /**
     * A chat request in the pipeline: the caller's message contents are what the input guardrails check; the prompt
     * is the conversation (with a variant's system prompt) rendered through the answering version's chat template.
     */
    record Chat(ChatRequest request) implements GenerationRequest {

        @Override
        public GenerationOptions options() {
            return request.options();
        }

        @Override
        public Endpoint endpoint() {
            return Endpoint.CHAT;
        }

        @Override
        public RequestGrammar grammar() {
            return request.grammar();
        }

        @Override
        public JsonOutputRequirement jsonOutput() {
            return request.jsonOutput();
        }

        @Override
        public Integer logprobs() {
            return request.logprobs() ? request.topLogprobs() : null;
        }

        @Override
        public List<String> inputTexts(ServedModel resolved) {
            return request.messages().stream().map(ChatMessage::content).toList();
        }

        @Override
        public Prompts prompts(
                ServedModel resolved, GenerationOptions routed, List<String> given, List<String> checked) {
            // The variant's system prompt is the operator's, not the caller's: it joins after the input check.
            ChatRequest conversation = request.withContents(checked).routed(routed);
            // Rendered per version: a fallback model has its own chat template and tokenizer.
            return new Prompts(
                    m -> List.of(ChatTemplate.tokenize(m.tokenizer(), render(m, conversation))), List.of(""));
        }

        @Override
        public Object body(Submission submission, List<GenerationResult> results) {
            return response(submission, request, results);
        }

        @Override
        public SseStream.ChunkFormat chunks(Submission submission) {
            return new Chunks(submission, request);
        }
    }
}
