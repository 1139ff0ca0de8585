package dev.anvil.serving;

import dev.anvil.engine.SamplingParams;
import dev.anvil.engine.Scheduler;
import dev.anvil.engine.SequenceRequest;
import dev.anvil.engine.SubmissionRejectedException;
import jakarta.annotation.security.PermitAll;
import jakarta.ejb.EJB;
import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.inject.Inject;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * The entry point for inference: resolves a model reference to a loaded version and queues the request on
 * its batching scheduler. A pooled stateless bean (pool {@code anvil-inference-pool}, see
 * {@code META-INF/jboss-ejb3.xml}); {@link #submit} returns as soon as the request is queued, the generation
 * itself runs on the model's batching thread and reports through the returned {@link GenerationHandle}.
 *
 * <p>Failures are {@link InferenceException}s with a kind (NOT_FOUND, INVALID, CONTEXT_LENGTH, OVERLOADED,
 * UNAVAILABLE), thrown as they are (application exception).
 */
@Stateless
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
@PermitAll
public class InferenceService {

    /** Most alternatives per token that {@code logprobs} may ask for (OpenAI's limit for top_logprobs). */
    public static final int MAX_LOGPROBS = 20;

    @EJB
    ModelRuntimes runtimes;

    @Inject
    ServingConfig config;

    @Inject
    ServingMetrics metrics;

    @Inject
    FaultInjector faults;

    /** The model versions now serving (one per model name: its PRODUCTION version), by name. */
    public List<ServedModel> models() {
        return runtimes.servingRuntimes().stream().map(ModelRuntime::served).toList();
    }

    /**
     * {@code "name"} → the version serving that name (its PRODUCTION version); {@code "name@version"} → exactly
     * that version, loaded first if it is registered but not loaded (see {@link ModelRuntimes#acquire}).
     *
     * @throws InferenceException NOT_FOUND if nothing by that reference is registered or served, INVALID for a blank
     *                            reference or an ARCHIVED version, UNAVAILABLE while a version is still loading
     */
    public ServedModel resolve(String modelRef) {
        return runtime(modelRef).served();
    }

    /**
     * Validates and queues a request (n sequences for n choices).
     *
     * @throws InferenceException NOT_FOUND, INVALID, CONTEXT_LENGTH, OVERLOADED (with retryAfterSeconds) or
     *                            UNAVAILABLE; nothing is queued then
     */
    public GenerationHandle submit(InferenceRequest request) {
        if (request == null) throw InferenceException.invalid("the request is missing", null);
        // A runtime resolved just before a promotion switched traffic rejects as draining: resolve again once.
        try {
            return submitTo(runtime(request.model()), request);
        } catch (RetryOnNewRuntime retry) {
            try {
                return submitTo(runtime(request.model()), request);
            } catch (RetryOnNewRuntime again) {
                throw (InferenceException) again.getCause();
            }
        }
    }

    /**
     * Like {@link #submit(InferenceRequest)}, with {@code listener} registered at once: events that happened before
     * (the sequences are queued first, so a refused choice never reaches the listener) are replayed to it on this
     * thread, under the handle's lock, so it sees every event once and in order.
     */
    public GenerationHandle submit(InferenceRequest request, GenerationListener listener) {
        GenerationHandle handle = submit(request);
        handle.listen(listener);
        return handle;
    }

    private GenerationHandle submitTo(ModelRuntime runtime, InferenceRequest r) {
        ServedModel model = runtime.served();
        if (model.embeds()) throw notAGenerator(model);
        int[] prompt = r.promptTokens();
        if (prompt == null || prompt.length == 0) throw InferenceException.invalid("the prompt is empty", "prompt");
        if (r.n() < 1 || r.n() > config.maxN()) {
            throw InferenceException.invalid("n must be between 1 and " + config.maxN() + ", was " + r.n(), "n");
        }
        if (r.logprobs() != null && (r.logprobs() < 0 || r.logprobs() > MAX_LOGPROBS)) {
            throw InferenceException.invalid(
                    "logprobs must be between 0 and " + MAX_LOGPROBS + ", was " + r.logprobs(), "logprobs");
        }
        int context = model.contextLength();
        if (prompt.length > context) {
            throw InferenceException.contextLength(
                    "this model's maximum context length is " + context + " tokens, but the prompt has " + prompt.length
                            + " tokens",
                    "messages");
        }
        int maxTokens;
        if (r.maxTokens() == null) {
            maxTokens = context - prompt.length;
            if (maxTokens < 1) {
                throw InferenceException.contextLength(
                        "this model's maximum context length is " + context + " tokens and the prompt fills it ("
                                + prompt.length + " tokens): no room to generate",
                        "messages");
            }
        } else {
            maxTokens = r.maxTokens();
            if (maxTokens < 1)
                throw InferenceException.invalid("max_tokens must be at least 1, was " + maxTokens, "max_tokens");
            if ((long) prompt.length + maxTokens > context) {
                throw InferenceException.contextLength(
                        "this model's maximum context length is " + context
                                + " tokens, but " + (prompt.length + maxTokens) + " were requested (" + prompt.length
                                + " in the prompt, " + maxTokens
                                + " for the completion); reduce the prompt or max_tokens",
                        "max_tokens");
            }
        }
        SamplingParams base = r.sampling() == null ? SamplingParams.DEFAULTS : r.sampling();
        base = base.withTopLogprobs(r.logprobs() == null ? -1 : r.logprobs());
        List<String> stop = r.stop() == null ? List.of() : r.stop();
        String id = r.requestId() != null ? r.requestId() : "req-" + UUID.randomUUID();

        GenerationHandle handle = new GenerationHandle(
                id, model, prompt.length, r.n(), r.logprobs(), metrics.observer(runtime, prompt.length));
        if (faults != null) faults.apply(model.ref()); // test-only: anvil.serving.fault-injection, empty in production
        Scheduler scheduler = runtime.scheduler();
        for (int i = 0; i < r.n(); i++) {
            SequenceRequest seq = new SequenceRequest(
                    prompt, base.withSeed(base.seed() + i), maxTokens, stop, r.priority(), r.grammar());
            try {
                handle.addSequence(scheduler.submit(seq, handle.choiceListener(i, model.tokenizer())));
            } catch (SubmissionRejectedException e) {
                InferenceException mapped = map(e, model);
                if (i > 0) handle.abandon(mapped);
                if (e.reason() == SubmissionRejectedException.Reason.CLOSED && i == 0)
                    throw new RetryOnNewRuntime(mapped);
                metrics.rejected(runtime, mapped);
                throw mapped;
            }
        }
        return handle;
    }

    /** The refusal of a generation request to an embedding model. */
    public static InferenceException notAGenerator(ServedModel model) {
        return InferenceException.unsupportedByModel("model " + model.ref()
                + " is an embedding model: it serves POST /v1/embeddings, not completions or chat completions;"
                + " pass a generation model");
    }

    /** The refusal of an embeddings request to a generation model. */
    public static InferenceException notAnEmbedder(ServedModel model) {
        return InferenceException.unsupportedByModel("model " + model.ref()
                + " is a generation model: it serves completions and chat completions, not embeddings;"
                + " pass an embedding model (a BERT-family GGUF such as BGE or MiniLM)");
    }

    /**
     * Queues the inputs of one embeddings request (token ids, each framed as the model reads them) on {@code
     * modelRef}'s batching queue; the future completes with one pooled, unnormalized embedding per input.
     *
     * @throws InferenceException NOT_FOUND, INVALID (a generation model, no or empty inputs, a token id outside the
     *                            vocabulary), CONTEXT_LENGTH (an input longer than the model reads), OVERLOADED or
     *                            UNAVAILABLE; nothing is queued then
     */
    public CompletableFuture<float[][]> embed(String modelRef, List<int[]> inputs) {
        try {
            return embedOn(runtime(modelRef), inputs);
        } catch (RetryOnNewRuntime retry) {
            try {
                return embedOn(runtime(modelRef), inputs);
            } catch (RetryOnNewRuntime again) {
                throw (InferenceException) again.getCause();
            }
        }
    }

    /**
     * One text's embedding by the embedding model {@code modelRef} (a name or {@code name@version}), for the server's
     * own uses of embeddings (the semantic cache, drift): tokenized with [CLS]/[SEP] and cut to the model's context
     * (the closing [SEP] kept), queued like an embeddings request; unnormalized.
     *
     * @throws InferenceException as {@link #resolve} and {@link #embed}, or INVALID when {@code modelRef} is a
     *                            generation model
     */
    public CompletableFuture<float[]> embedText(String modelRef, String text) {
        ServedModel embedder = resolve(modelRef);
        if (!embedder.embeds()) throw notAnEmbedder(embedder);
        int[] tokens = embedder.tokenizer().encode(text, true, true);
        if (tokens.length > embedder.contextLength()) {
            int[] cut = java.util.Arrays.copyOf(tokens, embedder.contextLength());
            cut[cut.length - 1] = tokens[tokens.length - 1];
            tokens = cut;
        }
        return embed(embedder.ref(), List.of(tokens)).thenApply(vectors -> vectors[0]);
    }

    private CompletableFuture<float[][]> embedOn(ModelRuntime runtime, List<int[]> inputs) {
        ServedModel model = runtime.served();
        if (!model.embeds()) throw notAnEmbedder(model);
        if (inputs == null || inputs.isEmpty()) throw InferenceException.invalid("input is empty", "input");
        for (int i = 0; i < inputs.size(); i++) {
            int[] ids = inputs.get(i);
            if (ids == null || ids.length == 0)
                throw InferenceException.invalid("input[" + i + "] has no tokens", "input");
            if (ids.length > model.contextLength()) {
                throw InferenceException.contextLength(
                        "this model's maximum context length is " + model.contextLength() + " tokens, but input[" + i
                                + "] has " + ids.length + " tokens; shorten or split it",
                        "input");
            }
            for (int id : ids) {
                if (id < 0 || id >= model.tokenizer().vocabSize())
                    throw InferenceException.invalid(
                            "input[" + i + "] holds token id " + id + ", outside the vocabulary of "
                                    + model.tokenizer().vocabSize(),
                            "input");
            }
        }
        if (faults != null) faults.apply(model.ref());
        try {
            CompletableFuture<float[][]> result = runtime.embeddings().submit(inputs);
            metrics.embeddingRequest(runtime);
            return result;
        } catch (SubmissionRejectedException e) {
            InferenceException mapped = map(e, model);
            if (e.reason() == SubmissionRejectedException.Reason.CLOSED) throw new RetryOnNewRuntime(mapped);
            metrics.rejected(runtime, mapped);
            throw mapped;
        }
    }

    /** Applies the configured test fault of this version, if any: a delay before queueing, or a refusal. */
    private static InferenceException map(SubmissionRejectedException e, ServedModel model) {
        return switch (e.reason()) {
            case CONTEXT_LENGTH -> InferenceException.contextLength(e.getMessage(), "max_tokens");
            case INVALID -> InferenceException.invalid(e.getMessage(), "prompt");
            case OVERLOADED ->
                InferenceException.overloaded(
                        "model " + model.ref() + " is overloaded: " + e.getMessage(), e.retryAfterSeconds());
            case CLOSED -> InferenceException.unavailable("model " + model.ref() + " is being unloaded; retry", 1);
        };
    }

    private ModelRuntime runtime(String ref) {
        if (ref == null || ref.isBlank()) throw InferenceException.invalid("model is required", "model");
        int at = ref.indexOf('@');
        if (at < 0) {
            ModelRuntime r = runtimes.serving(ref);
            if (r == null) throw InferenceException.notFound(notServedMessage(ref), "model");
            return r;
        }
        String name = ref.substring(0, at), version = ref.substring(at + 1);
        if (name.isBlank() || version.isBlank()) {
            throw InferenceException.invalid("model reference '" + ref + "' must be 'name' or 'name@version'", "model");
        }
        // A registered version that is not loaded is loaded now (shared with concurrent requests for it).
        return runtimes.acquire(name, version);
    }

    private String notServedMessage(String name) {
        List<String> names =
                runtimes.servingRuntimes().stream().map(r -> r.served().name()).toList();
        return "the model '" + name + "' does not exist or has no PRODUCTION version being served"
                + (names.isEmpty() ? "" : " (served models: " + String.join(", ", names) + ")");
    }

    /** The runtime drained between resolution and submission; carries the error to throw if the retry fails too. */
    private static final class RetryOnNewRuntime extends RuntimeException {
        RetryOnNewRuntime(InferenceException cause) {
            super(cause.getMessage(), cause, false, false);
        }
    }
}
