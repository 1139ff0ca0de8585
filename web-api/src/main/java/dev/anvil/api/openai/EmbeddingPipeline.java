package dev.anvil.api.openai;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.api.gateway.CallerContext;
import dev.anvil.engine.BertEncoder;
import dev.anvil.engine.Tokenizer;
import dev.anvil.serving.EmbeddingConfig;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.InferenceException;
import dev.anvil.serving.InferenceService;
import dev.anvil.serving.ServedModel;
import jakarta.annotation.PreDestroy;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.container.AsyncResponse;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The path of a {@code POST /v1/embeddings} request, the same gateway stages as a generation ({@link
 * GenerationPipeline}) where they apply:
 *
 * <ol>
 *   <li><b>gateway</b>, before the resource: {@code ApiKeyFilter} (the key, its tenant, requests/minute, budget);</li>
 *   <li><b>access</b>: the key's model scope (403) and the caller's {@code name@version} pin (403). Experiments do
 *       not route embeddings: a variant would change the vector space under the caller's stored vectors;</li>
 *   <li><b>model</b>: the version resolved (404, loaded on demand); a generation model is a 400
 *       {@code model_not_supported}, as is a model without pooling;</li>
 *   <li><b>checks</b> on the model: {@code dimensions} at most its width, and below it only for a model declared
 *       Matryoshka-trained ({@code anvil.embeddings.matryoshka-models});</li>
 *   <li><b>admission</b>: inputs tokenized ([CLS] ... [SEP], as llama.cpp), the key's concurrent-requests slot and a
 *       reservation of the prompt tokens (429);</li>
 *   <li><b>submission</b> to the model's batching queue ({@link InferenceService#embed}: each input within the
 *       context, ids within the vocabulary; 400, or 503 when the queue is full);</li>
 *   <li><b>answer</b>: L2-normalized vectors (after truncation to {@code dimensions}), as floats or base64; usage
 *       settled and audited with the prompt tokens.</li>
 * </ol>
 *
 * Input guardrails (PII, prompt injection, blocked terms) do not run: nothing is generated from the text, and an
 * embedding cannot carry an injected instruction to a model. The response cache does not apply either.
 */
@ApplicationScoped
public class EmbeddingPipeline {

    static final String ID_PREFIX = "emb-";

    @Inject
    ServedModels models;

    @EJB
    InferenceService inference;

    @Inject
    CallerContext caller;

    @Inject
    OpenAiConfig config;

    @Inject
    EmbeddingConfig embeddings;

    /** Virtual threads that write answers (normalization and encoding included). */
    private final ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();

    @PreDestroy
    void stopWriters() {
        writers.shutdown();
    }

    void embed(HttpServletRequest http, AsyncResponse async, InputStream body, String contentLength) {
        AnswerWriter.disableContainerAsyncTimeout(http);
        try {
            EmbeddingRequest request = EmbeddingRequest.parse(
                    RequestBodies.readObject(body, contentLength, config.maxBodyBytes()), embeddings.maxInputs());
            String requested = request.model();
            caller.requireModel(requested);
            if (requested.indexOf('@') > 0) caller.requireVersionPin(requested, models.servesName(requested));
            ServedModel model = models.served(requested, EmbeddingRequest.INPUT);
            int dims = dimensions(model, request.dimensions());
            List<int[]> inputs = tokens(model, request.inputs());
            int promptTokens = 0;
            for (int[] in : inputs) promptTokens += in.length;
            submit(async, request, model, inputs, promptTokens, dims);
        } catch (RuntimeException e) {
            async.resume(e);
        }
    }

    /**
     * The width to answer with: the model's own unless {@code requested}; larger than the model's is a 400, smaller
     * only for a model whose embeddings may be truncated.
     */
    int dimensions(ServedModel model, Integer requested) {
        if (!model.embeds()) {
            InferenceException e = InferenceService.notAnEmbedder(model);
            throw new ApiException(400, ApiErrors.TYPE_INVALID_REQUEST, e.getMessage(), e.param(), e.code());
        }
        if (!BertEncoder.Pooling.valueOf(model.embedding().pooling()).pools()) {
            throw new ApiException(
                    400,
                    ApiErrors.TYPE_INVALID_REQUEST,
                    "model " + model.ref() + " has pooling type "
                            + model.embedding().pooling()
                            + ": it gives one vector per token, not one per input, which is not an OpenAI embedding",
                    "model",
                    "model_not_supported");
        }
        int width = model.embedding().dimensions();
        if (requested == null || requested == width) return width;
        if (requested > width) {
            throw new ApiException(
                    400,
                    ApiErrors.TYPE_INVALID_REQUEST,
                    "'dimensions' is " + requested + " but model " + model.ref() + " produces " + width
                            + "-dimensional embeddings; ask for at most " + width,
                    "dimensions",
                    "invalid_value");
        }
        if (!embeddings.truncatable(model.name())) {
            throw new ApiException(
                    400,
                    ApiErrors.TYPE_INVALID_REQUEST,
                    "model " + model.ref() + " does not support 'dimensions' below its width of " + width
                            + " (only models trained for truncation, named in " + EmbeddingConfig.MATRYOSHKA_MODELS
                            + ", do); leave 'dimensions' out or pass " + width,
                    "dimensions",
                    "dimensions_not_supported");
        }
        return requested;
    }

    /** The inputs as the model reads them: text tokenized with [CLS] and [SEP]; token arrays as given. */
    static List<int[]> tokens(ServedModel model, List<EmbeddingRequest.Input> inputs) {
        Tokenizer tokenizer = model.tokenizer();
        List<int[]> out = new ArrayList<>(inputs.size());
        for (EmbeddingRequest.Input in : inputs)
            out.add(in.tokens() != null ? in.tokens() : tokenizer.encode(in.text(), true, true));
        return out;
    }

    private void submit(
            AsyncResponse async,
            EmbeddingRequest request,
            ServedModel model,
            List<int[]> inputs,
            int promptTokens,
            int dims) {
        String id = GenerationPipeline.newId(ID_PREFIX);
        Runnable leaveSlot = caller.admitGeneration(promptTokens);
        CompletableFuture<float[][]> vectors;
        try {
            vectors = inference.embed(model.ref(), inputs);
        } catch (InferenceException e) {
            caller.abandonGeneration();
            leaveSlot.run();
            throw InferenceErrors.exception(e, EmbeddingRequest.INPUT);
        } catch (RuntimeException e) {
            caller.abandonGeneration();
            leaveSlot.run();
            throw e;
        }
        CompletableFuture<float[][]> bounded = vectors.orTimeout(config.requestTimeoutSeconds(), TimeUnit.SECONDS);
        // gateway: when the embeddings are done, debit the prompt tokens and record usage + audit (no completion)
        CompletableFuture<List<GenerationResult>> done = bounded.thenApply(v -> List.of());
        caller.settleWhenDone(id, model, promptTokens, done, request.user());
        // The answer is written once that future is complete (the response filter joins it before writing) and never on
        // the model's batching thread, which completes the embeddings: a writer thread normalizes, encodes and resumes.
        done.whenCompleteAsync(
                (ignored, error) -> answer(async, request, model, bounded, error, promptTokens, dims, leaveSlot),
                writers);
    }

    private static void answer(
            AsyncResponse async,
            EmbeddingRequest request,
            ServedModel model,
            CompletableFuture<float[][]> vectors,
            Throwable error,
            int promptTokens,
            int dims,
            Runnable leaveSlot) {
        try {
            try {
                if (error != null) {
                    async.resume(failure(error, model));
                    return;
                }
                float[][] raw = vectors.join();
                float[][] out = new float[raw.length][];
                for (int i = 0; i < raw.length; i++) {
                    out[i] = BertEncoder.normalized(raw[i], dims);
                    for (float f : out[i]) {
                        if (!Float.isFinite(f)) {
                            async.resume(new ApiException(
                                    500,
                                    ApiErrors.TYPE_SERVER,
                                    "model " + model.ref() + " produced a non-finite embedding for input " + i,
                                    null,
                                    "non_finite_embedding"));
                            return;
                        }
                    }
                }
                async.resume(Response.ok(
                                EmbeddingAnswer.json(model.ref(), out, request.base64(), promptTokens),
                                MediaType.APPLICATION_JSON_TYPE)
                        .build());
            } catch (RuntimeException e) {
                async.resume(e); // answered as a 500 with an incident id by the exception mappers, logged there
            }
        } finally {
            leaveSlot.run();
        }
    }

    private static RuntimeException failure(Throwable error, ServedModel model) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof TimeoutException) {
            return InferenceErrors.exception(
                    InferenceException.unavailable("the embeddings of model " + model.ref() + " timed out", 5),
                    EmbeddingRequest.INPUT);
        }
        if (cause instanceof dev.anvil.engine.SubmissionRejectedException) {
            return InferenceErrors.exception(
                    InferenceException.unavailable("model " + model.ref() + " was unloaded; retry", 1),
                    EmbeddingRequest.INPUT);
        }
        return new ApiException(
                500, ApiErrors.TYPE_SERVER, "the embeddings of model " + model.ref() + " failed", null, null);
    }
}
