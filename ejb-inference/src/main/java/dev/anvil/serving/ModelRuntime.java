package dev.anvil.serving;

import dev.anvil.engine.Accelerator;
import dev.anvil.engine.BertEncoder;
import dev.anvil.engine.DeviceChoice;
import dev.anvil.engine.DevicePlacement;
import dev.anvil.engine.EmbeddingQueue;
import dev.anvil.engine.Generation;
import dev.anvil.engine.GgufFile;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.LoadProgress;
import dev.anvil.engine.SamplingParams;
import dev.anvil.engine.Scheduler;
import dev.anvil.engine.SequenceListener;
import dev.anvil.engine.SequenceOutcome;
import dev.anvil.engine.SequenceRequest;
import dev.anvil.engine.UnsupportedModelException;
import dev.anvil.serving.chat.ChatTemplate;
import dev.anvil.serving.chat.ChatTemplateException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One loaded model version: the weights (loaded once, compute threads from the container's managed thread
 * factory) and its batching loop, which runs as a long-running task of the managed executor. A generation model
 * (decoder) has its KV cache and {@link Scheduler}; an embedding model (encoder, {@link ServedModel#embeds()}) has
 * its {@link EmbeddingQueue}. Lifecycle: {@link #load} → {@link #start} → {@link #warmUp} → serving →
 * {@link #retire} (drain, then the loop task unloads the weights) or {@link #stop} (immediate).
 */
public final class ModelRuntime {

    private static final Logger LOG = Logger.getLogger(ModelRuntime.class.getName());

    public enum State {
        LOADED,
        WARMING,
        SERVING,
        DRAINING,
        STOPPED
    }

    private final ServedModel served;
    private final AutoCloseable weights;
    /** Generation models only (else null). */
    private final Scheduler scheduler;
    /** Embedding models only (else null). */
    private final EmbeddingQueue embeddings;

    private final Instant loadedAt = Instant.now();
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();
    private volatile State state = State.LOADED;
    private final AtomicBoolean loopClaimed = new AtomicBoolean();
    private final CountDownLatch loopStarted = new CountDownLatch(1);

    private ModelRuntime(ServedModel served, AutoCloseable weights, Scheduler scheduler, EmbeddingQueue embeddings) {
        this.served = served;
        this.weights = weights;
        this.scheduler = scheduler;
        this.embeddings = embeddings;
    }

    /**
     * Loads the weights of {@code name@version} from {@code path} (GGUF or a llama2.c checkpoint) and builds its
     * scheduler. Nothing runs yet.
     */
    static ModelRuntime load(
            String name,
            String version,
            Path path,
            Instant createdAt,
            String owner,
            ThreadFactory threads,
            ServingConfig config,
            EmbeddingConfig embeddingConfig,
            Path draftPath,
            LoadProgress progress)
            throws IOException {
        if (!Files.isReadable(path))
            throw new IOException("model file " + path + " of " + name + "@" + version + " is not readable");
        if (isGguf(path) && isEncoder(path))
            return loadEncoder(name, version, path, createdAt, owner, threads, config, embeddingConfig, progress);
        Scheduler.Config sc = config.schedulerConfig(name, version);
        if (draftPath != null && !Files.isReadable(draftPath))
            throw new IOException("draft model file " + draftPath + " of " + name + "@" + version + " is not readable");
        LlamaModel model = LlamaModel.load(path, threads, config.engineThreads(), progress);
        LlamaModel draft = null;
        try {
            // The draft runs between the target's passes on the same cores: its own compute threads, as many.
            if (draftPath != null) draft = LlamaModel.load(draftPath, threads, config.engineThreads());
            KvCachePool kv = model.newKvCachePool(sc.kvCacheBytes());
            DevicePlacement.Decision placed = place(model, kv, config.device());
            LOG.info(() -> name + "@" + version + " runs on " + placed.deviceName() + ": " + placed.reason());
            Scheduler scheduler = new Scheduler(model, sc, kv, draft);
            LlamaModel loadedDraft = draft;
            AutoCloseable weights = loadedDraft == null
                    ? model
                    : () -> {
                        try {
                            model.close();
                        } finally {
                            loadedDraft.close();
                        }
                    };
            ServedModel served = new ServedModel(
                    name,
                    version,
                    model.tokenizer(),
                    model.config().contextLength(),
                    chatTemplate(path, model, config),
                    createdAt,
                    owner);
            if (scheduler.speculation().enabled())
                LOG.info(() -> name + "@" + version + " decodes speculatively: " + scheduler.speculation()
                        + (draftPath == null ? "" : ", draft " + draftPath));
            ModelRuntime runtime = new ModelRuntime(served, weights, scheduler, null);
            runtime.placement = placed;
            runtime.deviceBackend = model.device();
            return runtime;
        } catch (RuntimeException | IOException e) {
            model.close();
            if (draft != null) draft.close();
            throw e;
        }
    }

    /**
     * Decides the device of a generation model ({@link DevicePlacement}) and, for a GPU, uploads its weights and sizes
     * the device KV cache for {@code kv} ({@link Accelerator#open}); under {@code auto} a model the GPU backend
     * cannot take (an encoding its kernels lack) stays on the CPU with that reason.
     */
    private static DevicePlacement.Decision place(LlamaModel model, KvCachePool kv, DeviceChoice choice) {
        if (choice.kind() == DeviceChoice.Kind.CPU) return DevicePlacement.decide(choice, null, 0);
        Optional<Accelerator> cuda = Accelerator.find("cuda");
        Accelerator.Probe probe = cuda.map(Accelerator::probe).orElse(null);
        long need;
        try {
            need = probe != null && probe.available() ? cuda.get().bytesNeeded(model, kv) : 0;
        } catch (IllegalArgumentException e) {
            if (choice.kind() == DeviceChoice.Kind.AUTO)
                return new DevicePlacement.Decision(-1, "auto chose the CPU: " + e.getMessage());
            throw new IllegalStateException("cannot place the model on " + choice + ": " + e.getMessage(), e);
        }
        DevicePlacement.Decision d = DevicePlacement.decide(choice, probe, need);
        if (!d.cpu()) model.attach(cuda.get().open(model, d.device(), kv));
        return d;
    }

    /** Where this runtime's forward passes run and why (CPU for embedding models). */
    public DevicePlacement.Decision placement() {
        return placement;
    }

    /** The GPU backend the model's passes run on, or null on the CPU. */
    public dev.anvil.engine.DeviceBackend deviceBackend() {
        return deviceBackend;
    }

    private volatile dev.anvil.engine.DeviceBackend deviceBackend;

    private volatile DevicePlacement.Decision placement =
            new DevicePlacement.Decision(-1, "embedding models run on the CPU");

    private static boolean isEncoder(Path path) throws IOException {
        try (GgufFile f = GgufFile.open(path)) {
            return BertEncoder.isEncoder(f);
        }
    }

    /** An embedding model: the encoder and its batching queue; no KV cache, no chat template. */
    private static ModelRuntime loadEncoder(
            String name,
            String version,
            Path path,
            Instant createdAt,
            String owner,
            ThreadFactory threads,
            ServingConfig config,
            EmbeddingConfig embeddingConfig,
            LoadProgress progress)
            throws IOException {
        EmbeddingQueue.Config qc = embeddingConfig.queueConfig();
        // The encoder maps its file without reading ahead: its progress is the whole file once it is loaded.
        long size = Files.size(path);
        progress.weightsRead(0, size);
        BertEncoder encoder = BertEncoder.load(path, threads, config.engineThreads());
        progress.weightsRead(size, size);
        try {
            BertEncoder.Config c = encoder.config();
            ServedModel served = new ServedModel(
                    name,
                    version,
                    encoder.tokenizer(),
                    c.contextLength(),
                    null,
                    createdAt,
                    owner,
                    new ServedModel.Embedding(c.dim(), c.pooling().name()));
            return new ModelRuntime(served, encoder, null, new EmbeddingQueue(encoder, qc));
        } catch (RuntimeException e) {
            encoder.close();
            throw e;
        }
    }

    /**
     * The model's chat template (GGUF {@code tokenizer.chat_template}; the fallback transcript when the file has none,
     * as llama2.c checkpoints never do), verified here so that a template that cannot render a simple conversation
     * fails the load instead of every chat request.
     */
    private static ChatTemplate chatTemplate(Path path, LlamaModel model, ServingConfig config) throws IOException {
        String source = null;
        if (isGguf(path)) {
            try (GgufFile f = GgufFile.open(path)) {
                source = f.getString("tokenizer.chat_template", null);
            }
        }
        try {
            return ChatTemplate.forModel(source, model.tokenizer(), config.chatTemplateLimits())
                    .verify();
        } catch (ChatTemplateException e) {
            throw new UnsupportedModelException(path + ": tokenizer.chat_template: " + e.getMessage(), e);
        }
    }

    private static boolean isGguf(Path path) throws IOException {
        try (var in = Files.newInputStream(path)) {
            byte[] magic = in.readNBytes(4);
            return magic.length == 4 && magic[0] == 'G' && magic[1] == 'G' && magic[2] == 'U' && magic[3] == 'F';
        }
    }

    /**
     * Starts the scheduler loop on {@code executor} (a managed executor configured for long-running tasks) and
     * waits until a thread of that executor really runs it. When the loop ends (after {@link #retire} drained
     * it, or {@link #stop}), the same task unloads the weights.
     *
     * @throws IllegalStateException if no executor thread picked the loop up within {@code startTimeoutSeconds}
     *                               (every thread busy with other models' loops); the model is unloaded then
     */
    void start(ExecutorService executor, int startTimeoutSeconds) throws InterruptedException {
        Future<?> task = executor.submit(() -> {
            // Whoever claims first owns the unload: this task, or start()/stop() giving up on it.
            if (!loopClaimed.compareAndSet(false, true)) return;
            loopStarted.countDown();
            try {
                if (scheduler != null) scheduler.run();
                else embeddings.run();
            } catch (RuntimeException | Error e) {
                LOG.log(Level.SEVERE, "batching loop of " + served.ref() + " ended with an error", e);
            } finally {
                unload();
            }
        });
        if (!loopStarted.await(startTimeoutSeconds, TimeUnit.SECONDS) && loopClaimed.compareAndSet(false, true)) {
            task.cancel(false);
            closeLoop();
            unload();
            throw new IllegalStateException(
                    "no thread of the managed executor anvil-batching picked up the batching loop of "
                            + served.ref() + " within " + startTimeoutSeconds
                            + " s: every thread runs another model's loop. "
                            + "Each loaded model version (two during a promotion) needs one thread: raise the executor's core-threads "
                            + "(ANVIL_BATCHING_CORE_THREADS) or serve fewer models");
        }
    }

    private void unload() {
        state = State.STOPPED;
        try {
            weights.close();
            LOG.info(() -> "Unloaded " + served.ref());
        } catch (Exception e) {
            LOG.log(Level.WARNING, "unloading " + served.ref() + " failed", e);
        } finally {
            stopped.complete(null);
        }
    }

    /**
     * Generates {@code tokens} tokens from BOS, so the first real request does not pay for JIT compilation
     * of the kernels and cache allocation; blocks until done.
     */
    void warmUp(int tokens) throws Exception {
        state = State.WARMING;
        if (embeddings != null) {
            // One short input through the queue: the encoder's kernels compiled before the first request.
            float[][] e = embeddings
                    .submit(List.of(embeddings.encoder().tokenize("warm up")))
                    .get(5, TimeUnit.MINUTES);
            LOG.info(() -> "Warmed up " + served.ref() + ": one embedding of " + e[0].length + " dimensions");
            return;
        }
        int context = served.contextLength();
        int max = Math.max(1, Math.min(tokens, context - 1));
        CompletableFuture<SequenceOutcome> done = new CompletableFuture<>();
        scheduler.submit(
                new SequenceRequest(new int[] {served.tokenizer().bos()}, SamplingParams.GREEDY, max, List.of()),
                new SequenceListener() {
                    @Override
                    public void onToken(Generation.Step step) {}

                    @Override
                    public void onFinish(SequenceOutcome outcome) {
                        done.complete(outcome);
                    }

                    @Override
                    public void onError(Throwable error) {
                        done.completeExceptionally(error);
                    }
                });
        SequenceOutcome outcome = done.get(5, TimeUnit.MINUTES);
        LOG.info(() -> "Warmed up " + served.ref() + ": " + outcome.generatedTokens() + " tokens");
    }

    void markServing() {
        state = State.SERVING;
    }

    /** Stops taking requests; in-flight ones finish (up to {@code timeoutSeconds}), then the weights are unloaded. */
    void retire(int timeoutSeconds) {
        state = State.DRAINING;
        if (scheduler != null) scheduler.drain(timeoutSeconds, TimeUnit.SECONDS);
        else embeddings.drain(timeoutSeconds, TimeUnit.SECONDS);
    }

    /** Fails everything in flight and unloads as soon as the loop notices (at once if no loop runs). */
    void stop() {
        state = State.DRAINING;
        closeLoop();
        if (loopClaimed.compareAndSet(false, true)) unload();
    }

    private void closeLoop() {
        if (scheduler != null) scheduler.close();
        else embeddings.close();
    }

    /** Nothing waiting or running. */
    public boolean isIdle() {
        return scheduler != null ? scheduler.isIdle() : embeddings.isIdle();
    }

    /** Completes when the loop ended and the weights were unloaded. */
    CompletableFuture<Void> stopped() {
        return stopped;
    }

    public ServedModel served() {
        return served;
    }

    /** The generation model's scheduler; null for an embedding model. */
    public Scheduler scheduler() {
        return scheduler;
    }

    /** The embedding model's queue; null for a generation model. */
    public EmbeddingQueue embeddings() {
        return embeddings;
    }

    public State state() {
        return state;
    }

    public Instant loadedAt() {
        return loadedAt;
    }

    public String ref() {
        return served.ref();
    }
}
