package dev.anvil.api.openai;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.security.ApiKeyAccess;
import dev.anvil.engine.Tokenizer;
import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import dev.anvil.serving.TokenLogprob;
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

/** {@code POST /v1/completions}: OpenAI's (legacy) text completions, plain JSON or streamed as SSE. */
@Path("/v1/completions")
@ApiKeyAccess
@SecurityRequirement(name = AnvilApplication.API_KEY_SECURITY)
@Tag(name = "openai", description = "OpenAI-compatible inference API")
public class CompletionsResource {

    static final String OBJECT = "text_completion";

    @Inject
    GenerationPipeline pipeline;

    @POST
    @Operation(
            summary = "Create a completion",
            description = "OpenAI-compatible text completion; with \"stream\": true the answer is text/event-stream."
                    + " Extension: \"grammar\", a GBNF grammar (llama.cpp's format) the output must follow; a"
                    + " grammar that does not parse is a 400 with line and column.")
    public void create(
            InputStream body,
            @HeaderParam(HttpHeaders.CONTENT_LENGTH) String contentLength,
            @Context HttpServletRequest servletRequest,
            @Suspended AsyncResponse async) {
        pipeline.generate(
                servletRequest, async, body, contentLength, json -> new Completion(CompletionRequest.parse(json)));
    }

    /**
     * The prompts as tokens of {@code target}: text through its tokenizer (like llama.cpp's server: BOS as the model
     * wants it, special-token texts parsed as such); given token arrays as they are for the resolved model itself.
     */
    private static List<int[]> encode(
            ServedModel target, ServedModel resolved, List<String> sources, List<int[]> tokenPrompts) {
        Tokenizer tokenizer = target.tokenizer();
        List<int[]> prompts = new ArrayList<>(sources.size());
        for (int i = 0; i < sources.size(); i++) {
            int[] tokens = tokenPrompts.get(i);
            prompts.add(
                    tokens != null && target.ref().equals(resolved.ref())
                            ? tokens
                            : tokenizer.encodeWithSpecials(sources.get(i), tokenizer.addBosByDefault()));
        }
        return prompts;
    }

    private static String decodeChecked(Tokenizer tokenizer, int[] tokens) {
        for (int id : tokens) {
            if (id >= tokenizer.vocabSize()) {
                throw dev.anvil.api.ApiException.badRequest(
                        "prompt token id " + id + " is outside the vocabulary of " + tokenizer.vocabSize(), "prompt");
            }
        }
        return tokenizer.decode(tokens);
    }

    static OpenAiJson.Answer<OpenAiJson.CompletionChoice> response(
            Submission s, CompletionRequest request, List<GenerationResult> results) {
        List<OpenAiJson.CompletionChoice> choices = new ArrayList<>();
        int completionTokens = 0, cachedTokens = 0;
        for (int p = 0; p < results.size(); p++) {
            GenerationResult result = results.get(p);
            String prefix = request.echo() ? s.promptTexts.get(p) : "";
            for (GenerationResult.Choice c : result.choices()) {
                OpenAiJson.CompletionLogprobs logprobs =
                        c.logprobs() == null ? null : Logprobs.completion(c.logprobs(), prefix.length());
                choices.add(new OpenAiJson.CompletionChoice(
                        prefix + c.text(),
                        p * s.n + c.index(),
                        logprobs,
                        c.finishReason().openAiName()));
            }
            completionTokens += result.usage().completionTokens();
            cachedTokens += result.usage().cachedTokens();
        }
        return s.answer(OBJECT, choices, OpenAiJson.Usage.of(s.totalPromptTokens(), completionTokens, cachedTokens));
    }

    /** Stream chunks: {@code object: text_completion}, one choice per chunk. */
    static final class Chunks extends AnswerChunks<OpenAiJson.CompletionChoice> {
        private final CompletionRequest request;
        /** Per choice: characters sent so far, for {@code text_offset}. */
        private final int[] offsets;

        Chunks(Submission s, CompletionRequest request) {
            super(s, OBJECT);
            this.request = request;
            this.offsets = new int[s.choices()];
        }

        @Override
        public List<Object> opening() {
            if (!request.echo()) {
                return List.of();
            }
            List<Object> chunks = new ArrayList<>();
            for (int i = 0; i < submission.choices(); i++) {
                String text = submission.promptTexts.get(i / submission.n);
                offsets[i] = text.length();
                chunks.add(chunk(new OpenAiJson.CompletionChoice(text, i, null, null)));
            }
            return chunks;
        }

        @Override
        public List<Object> delta(int index, String text, TokenLogprob logprob) {
            OpenAiJson.CompletionLogprobs lp =
                    logprob == null ? null : Logprobs.completion(List.of(logprob), offsets[index]);
            offsets[index] += text.length();
            return List.of(chunk(new OpenAiJson.CompletionChoice(text, index, lp, null)));
        }

        @Override
        public List<Object> finish(int index, FinishReason reason) {
            return List.of(chunk(new OpenAiJson.CompletionChoice("", index, null, reason.openAiName())));
        }
    }

    /**
     * A completions request in the pipeline: every prompt is checked by the input guardrails as text (token arrays
     * decoded with the resolved model's tokenizer); a token prompt the guardrails left unchanged is generated from
     * exactly its tokens.
     */
    record Completion(CompletionRequest request) implements GenerationRequest {

        @Override
        public GenerationOptions options() {
            return request.options();
        }

        @Override
        public Endpoint endpoint() {
            return Endpoint.COMPLETIONS;
        }

        @Override
        public RequestGrammar grammar() {
            return request.grammar();
        }

        @Override
        public Integer logprobs() {
            return request.logprobs();
        }

        @Override
        public List<String> inputTexts(ServedModel resolved) {
            List<String> texts = new ArrayList<>();
            for (CompletionRequest.Prompt prompt : request.prompts()) {
                texts.add(prompt.text() != null ? prompt.text() : decodeChecked(resolved.tokenizer(), prompt.tokens()));
            }
            return texts;
        }

        @Override
        public Prompts prompts(
                ServedModel resolved, GenerationOptions routed, List<String> given, List<String> checked) {
            List<String> echoed = new ArrayList<>();
            List<int[]> tokenPrompts = new ArrayList<>(); // as given, or null where the text must be encoded
            for (int i = 0; i < request.prompts().size(); i++) {
                CompletionRequest.Prompt prompt = request.prompts().get(i);
                String text = checked.get(i);
                if (prompt.text() != null) {
                    tokenPrompts.add(null);
                    echoed.add(text);
                } else {
                    // Unchanged by the guardrails: generate from exactly the given tokens.
                    tokenPrompts.add(text.equals(given.get(i)) ? prompt.tokens() : null);
                    echoed.add(request.echo() ? text : "");
                }
            }
            List<String> sources = List.copyOf(checked); // the text each prompt is generated from, for other tokenizers
            return new Prompts(m -> encode(m, resolved, sources, tokenPrompts), echoed);
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
