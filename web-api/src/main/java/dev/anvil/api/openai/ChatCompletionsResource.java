package dev.anvil.api.openai;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.api.ErrorResponse;
import dev.anvil.api.security.ApiKeyAccess;
import dev.anvil.engine.GrammarConstraint;
import dev.anvil.guardrails.JsonOutputRequirement;
import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import dev.anvil.serving.TokenLogprob;
import dev.anvil.serving.chat.ChatMessage;
import dev.anvil.serving.chat.ChatTemplate;
import dev.anvil.serving.chat.ChatTemplateException;
import dev.anvil.serving.chat.ChatTemplateLimits;
import dev.anvil.serving.tools.ToolCallStream;
import dev.anvil.serving.tools.ToolCallSyntax;
import dev.anvil.serving.tools.ToolGrammar;
import dev.anvil.serving.tools.ToolPrompt;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.container.AsyncResponse;
import jakarta.ws.rs.container.Suspended;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
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
    static final String FUNCTION = "function";
    /** The finish reason of an answer that calls tools. */
    static final String TOOL_CALLS = "tool_calls";

    @Inject
    GenerationPipeline pipeline;

    @POST
    @Operation(
            summary = "Create a chat completion",
            description = "OpenAI-compatible chat completion; with \"stream\": true the answer is text/event-stream."
                    + " response_format json_object/json_schema is enforced while decoding (a schema keyword that"
                    + " cannot be compiled is a 400 naming it); extension: \"grammar\", a GBNF grammar (llama.cpp's"
                    + " format) the output must follow. With \"tools\" the model's calls come back as"
                    + " message.tool_calls (finish_reason tool_calls), their arguments valid by construction.")
    @RequestBody(
            required = true,
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ChatCompletionSchemas.Request.class)))
    @APIResponse(
            responseCode = "200",
            description = "The completion, or its stream of chat.completion.chunk events",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ChatCompletionSchemas.Completion.class)))
    @APIResponse(
            responseCode = "400",
            description = "A field is invalid (param names it): bad tools or tool_choice, unbounded input, ...",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorResponse.class)))
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
        long chars = request.tools() == null ? 0 : request.tools().chars();
        for (ChatMessage m : request.messages()) chars += m.content().length();
        if (chars > limits.maxOutputChars()) {
            throw ApiException.badRequest(
                    "the messages hold " + chars + " characters, more than the " + limits.maxOutputChars()
                            + " a chat prompt may have (" + ChatTemplateLimits.MAX_OUTPUT_CHARS + ")",
                    "messages");
        }
        try {
            ToolCallSyntax syntax = ToolCallSyntax.of(template);
            ChatTools tools = request.tools();
            // With tool_choice none the tools stay in the prompt (the model knows them, as with OpenAI and vLLM),
            // except
            // the generic description, which is an instruction to call them.
            boolean described = tools != null && (tools.active() || syntax.templateRendersTools());
            return ToolPrompt.render(template, syntax, request.messages(), described ? tools.definitions() : null);
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
        ChatTools tools = request.tools();
        ToolCallSyntax syntax = syntax(s.model);
        for (GenerationResult.Choice c : result.choices()) {
            OpenAiJson.ChatLogprobs logprobs =
                    c.logprobs() == null ? null : Logprobs.chat(c.logprobs(), request.topLogprobs());
            ToolCallStream.Parsed parsed = tools == null || !tools.active()
                    ? null
                    : ToolCallStream.parse(syntax, tools.names(), tools.maxCalls(), c.text());
            if (parsed != null && !parsed.calls().isEmpty()) {
                List<OpenAiJson.ToolCall> calls = new ArrayList<>();
                for (ToolCallStream.Call call : parsed.calls())
                    calls.add(new OpenAiJson.ToolCall(
                            call.id(), FUNCTION, new OpenAiJson.FunctionCall(call.name(), call.arguments())));
                choices.add(new OpenAiJson.ChatChoice(
                        c.index(),
                        new OpenAiJson.ToolCallMessage(ASSISTANT, parsed.content(), calls),
                        logprobs,
                        TOOL_CALLS));
            } else {
                choices.add(new OpenAiJson.ChatChoice(
                        c.index(),
                        new OpenAiJson.Message(ASSISTANT, c.text()),
                        logprobs,
                        c.finishReason().openAiName()));
            }
        }
        return s.answer(
                OBJECT,
                choices,
                OpenAiJson.Usage.of(
                        result.usage().promptTokens(),
                        result.usage().completionTokens(),
                        result.usage().cachedTokens()));
    }

    /**
     * The grammar that makes the version's tool calls valid by construction ({@link ToolGrammar}), or null when the
     * answer is not read for calls. Forced for {@code required} (any declared function) and a named function (that one);
     * for {@code auto} the model may answer text, and what it opens as a call is constrained.
     */
    static GrammarConstraint toolGrammar(ServedModel model, ChatTools tools) {
        if (tools == null || !tools.active()) return null;
        List<ToolGrammar.Function> functions = new ArrayList<>();
        for (ChatTools.Function f : tools.functions().values()) {
            if (tools.choice().mode() == ChatTools.Choice.Mode.FUNCTION
                    && !f.name().equals(tools.choice().function())) continue;
            functions.add(new ToolGrammar.Function(f.name(), f.parametersJson()));
        }
        try {
            return ToolGrammar.constraint(
                    syntax(model), functions, tools.parallel(), tools.choice().forced());
        } catch (IllegalArgumentException e) {
            // Each schema compiled when the request was parsed: what is left is the grammar's size, over its limits.
            throw ApiException.badRequest(
                    "the tools' parameter schemas make a grammar larger than the server allows: " + e.getMessage()
                            + "; declare fewer or smaller tools",
                    "tools");
        }
    }

    /** The tool-call syntax of the version that answers (its chat template's; a fallback model has its own). */
    static ToolCallSyntax syntax(ServedModel model) {
        return model == null ? ToolCallSyntax.GENERIC : ToolCallSyntax.of(model.chatTemplate());
    }

    /**
     * Stream chunks: the role first (one chunk per choice), then content deltas, then the finish reason. With tools,
     * each choice's text passes through a {@link ToolCallStream}: content as soon as it cannot begin a call, a call as
     * OpenAI streams one (its index, id, type, name and {@code ""} arguments first, then argument fragments), and
     * {@code finish_reason: tool_calls} when the choice called a tool.
     */
    static final class Chunks extends AnswerChunks<OpenAiJson.ChatChunkChoice> {
        private final ChatRequest request;
        private final ToolCallSyntax syntax;
        private final Map<Integer, ToolCallStream> calls = new HashMap<>();

        Chunks(Submission s, ChatRequest request) {
            this(s, request, syntax(s.model));
        }

        Chunks(Submission s, ChatRequest request, ToolCallSyntax syntax) {
            super(s, CHUNK_OBJECT);
            this.request = request;
            this.syntax = syntax;
        }

        private ToolCallStream reader(int index) {
            ChatTools tools = request.tools();
            if (tools == null || !tools.active()) return null;
            return calls.computeIfAbsent(index, i -> new ToolCallStream(syntax, tools.names(), tools.maxCalls()));
        }

        private List<Object> chunks(int index, List<ToolCallStream.Event> events) {
            List<Object> chunks = new ArrayList<>(events.size());
            for (ToolCallStream.Event e : events) {
                Object delta = switch (e) {
                    case ToolCallStream.Content c -> new OpenAiJson.ContentDelta(c.text());
                    case ToolCallStream.CallStart c ->
                        new OpenAiJson.ToolCallsDelta(List.of(new OpenAiJson.ToolCallStart(
                                c.index(), c.id(), FUNCTION, new OpenAiJson.FunctionCall(c.name(), ""))));
                    case ToolCallStream.Arguments a ->
                        new OpenAiJson.ToolCallsDelta(List.of(new OpenAiJson.ToolCallArguments(
                                a.index(), new OpenAiJson.ArgumentsFragment(a.fragment()))));
                };
                chunks.add(chunk(new OpenAiJson.ChatChunkChoice(index, delta, null, null)));
            }
            return chunks;
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
        public List<Object> delta(int index, String text, TokenLogprob logprob) {
            ToolCallStream reader = reader(index);
            if (reader != null) return chunks(index, reader.feed(text)); // (no streamed logprobs with tools)
            OpenAiJson.ChatLogprobs lp = logprob == null
                    ? null
                    : new OpenAiJson.ChatLogprobs(List.of(Logprobs.chatToken(logprob, request.topLogprobs())));
            return List.of(chunk(new OpenAiJson.ChatChunkChoice(index, new OpenAiJson.ContentDelta(text), lp, null)));
        }

        @Override
        public List<Object> finish(int index, FinishReason reason) {
            ToolCallStream reader = reader(index);
            List<Object> chunks = new ArrayList<>();
            String finish = reason.openAiName();
            if (reader != null) {
                chunks.addAll(chunks(index, reader.finish()));
                if (!reader.calls().isEmpty() && reason != FinishReason.CONTENT_FILTER) finish = TOOL_CALLS;
            }
            chunks.add(chunk(new OpenAiJson.ChatChunkChoice(index, new OpenAiJson.EmptyDelta(), null, finish)));
            return chunks;
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
        public boolean promptIsCallerText() {
            return request.tools() == null
                    && request.messages().stream().allMatch(m -> m.toolCalls().isEmpty() && m.toolCallId() == null);
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
            Map<String, GrammarConstraint> grammars = new HashMap<>();
            return new Prompts(
                    m -> List.of(ChatTemplate.tokenize(m.tokenizer(), render(m, conversation))),
                    List.of(""),
                    m -> grammars.computeIfAbsent(m.ref(), ref -> toolGrammar(m, request.tools())));
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
