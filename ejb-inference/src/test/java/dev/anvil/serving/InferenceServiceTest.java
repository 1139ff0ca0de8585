package dev.anvil.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.ComputePool;
import dev.anvil.engine.SamplingParams;
import dev.anvil.registry.InMemoryRegistry;
import dev.anvil.registry.ModelRegistry;
import jakarta.enterprise.concurrent.ManagedExecutorService;
import jakarta.enterprise.concurrent.ManagedThreadFactory;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The serving tier outside the container: {@link InferenceService} over real {@link ModelRuntimes} with the
 * stories260K model, the managed executor and thread factory replaced by plain JDK ones.
 */
class InferenceServiceTest {

    static final Path MODEL =
            Path.of("..", "models", "stories260K.gguf").toAbsolutePath().normalize();

    ExecutorService executor;
    ModelRuntimes runtimes;
    InferenceService service;
    ServingConfig config;
    CountingMetrics metrics;

    /** Records what the service reports instead of writing to a MetricRegistry. */
    static final class CountingMetrics extends ServingMetrics {
        final AtomicInteger registered = new AtomicInteger(), unregistered = new AtomicInteger();
        final List<String> rejected = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger completed = new AtomicInteger(), failed = new AtomicInteger(), tokens = new AtomicInteger();

        @Override
        void register(ModelRuntime runtime) {
            registered.incrementAndGet();
        }

        @Override
        void unregister(ModelRuntime runtime) {
            unregistered.incrementAndGet();
        }

        @Override
        void rejected(ModelRuntime runtime, InferenceException e) {
            rejected.add(e.kind().name());
        }

        final AtomicInteger embeddingRequests = new AtomicInteger();

        @Override
        void embeddingRequest(ModelRuntime runtime) {
            embeddingRequests.incrementAndGet();
        }

        @Override
        GenerationHandle.RequestObserver observer(ModelRuntime runtime, int promptTokens) {
            return new GenerationHandle.RequestObserver() {
                @Override
                public void token(int choice) {
                    tokens.incrementAndGet();
                }

                @Override
                public void completed(GenerationResult result) {
                    completed.incrementAndGet();
                }

                @Override
                public void failed(Throwable error) {
                    failed.incrementAndGet();
                }
            };
        }
    }

    @SuppressWarnings("unchecked")
    static <T> T delegating(Class<T> type, Object target) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (proxy, method, args) -> {
            try {
                return method.invoke(target, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    /** A real registry (empty, on in-memory H2): name@version references of unloaded versions are looked up there. */
    private static InMemoryRegistry registryDatabase;

    private ModelRegistry registry;

    @BeforeAll
    static void registryDatabase() {
        registryDatabase = new InMemoryRegistry("inference-service-test");
    }

    @AfterAll
    static void closeRegistryDatabase() {
        if (registryDatabase != null) registryDatabase.close();
    }

    @BeforeEach
    void wire() {
        assertTrue(Files.isRegularFile(MODEL), "missing " + MODEL);
        config = new ServingConfig();
        config.kvCacheBytes = 8 << 20;
        config.maxQueue = 64;
        config.prefillChunkTokens = 64;
        config.maxBatchSequences = 16;
        config.prefixCachingEnabled = true;
        config.engineThreads = 2;
        config.maxN = 4;
        config.maxExtraLoadedVersions = 2;
        config.onDemandLoadWaitSeconds = 30;
        config.defaultModelEnabled = true;
        config.startupModels = Optional.empty();
        config.warmupEnabled = true;
        config.warmupTokens = 4;
        config.drainTimeoutSeconds = 60;
        config.loopStartTimeoutSeconds = 30;
        executor = Executors.newCachedThreadPool();
        metrics = new CountingMetrics();
        runtimes = new ModelRuntimes();
        runtimes.batching = delegating(ManagedExecutorService.class, executor);
        ThreadFactory tf = ComputePool.defaultFactory();
        runtimes.engineThreads = delegating(ManagedThreadFactory.class, tf);
        runtimes.config = config;
        runtimes.metrics = metrics;
        registry = registryDatabase.open();
        runtimes.registry = registry;
        service = new InferenceService();
        service.runtimes = runtimes;
        service.config = config;
        service.metrics = metrics;
    }

    @AfterEach
    void unload() throws Exception {
        runtimes.unloadAll();
        InMemoryRegistry.close(registry);
        executor.shutdown();
        assertTrue(executor.awaitTermination(30, TimeUnit.SECONDS), "every batching loop ended");
    }

    ModelRuntime serve(String version) throws Exception {
        ModelRuntime r = runtimes.load("stories", version, MODEL, Instant.parse("2026-01-01T00:00:00Z"), "anvil");
        runtimes.activate(r);
        return r;
    }

    int[] prompt(String text) {
        return runtimes.serving("stories").served().tokenizer().encode(text, true);
    }

    InferenceRequest greedy(String text, int maxTokens) {
        return InferenceRequest.of("stories", prompt(text), SamplingParams.GREEDY, maxTokens, List.of());
    }

    /** Collects events and checks their order. */
    static final class Events implements GenerationListener {
        final StringBuilder[] text;
        final FinishReason[] finish;
        final List<TokenLogprob> logprobs = Collections.synchronizedList(new ArrayList<>());
        final CountDownLatch firstDelta = new CountDownLatch(1);
        volatile GenerationResult completed;
        volatile Throwable error;
        volatile String orderProblem;

        Events(int n) {
            text = new StringBuilder[n];
            for (int i = 0; i < n; i++) text[i] = new StringBuilder();
            finish = new FinishReason[n];
        }

        @Override
        public synchronized void onDelta(int index, String t, TokenLogprob lp) {
            if (finish[index] != null) orderProblem = "delta after finish of choice " + index;
            text[index].append(t);
            if (lp != null) logprobs.add(lp);
            firstDelta.countDown();
        }

        @Override
        public synchronized void onFinish(int index, FinishReason reason) {
            if (finish[index] != null) orderProblem = "second finish of choice " + index;
            finish[index] = reason;
        }

        @Override
        public synchronized void onComplete(GenerationResult result) {
            if (completed != null) orderProblem = "second completion";
            for (FinishReason f : finish) if (f == null) orderProblem = "completion before every choice finished";
            completed = result;
        }

        @Override
        public void onError(Throwable e) {
            error = e;
        }
    }

    // ------------------------------------------------------------------------------------------------

    /** The BERT embedding model of the shared reference data (random weights, mean pooling, 256 wide). */
    static final Path BERT = Path.of(System.getProperty("anvil.shared.dir", "../../shared"))
            .resolve("reference/arch/bert-f16.gguf")
            .toAbsolutePath()
            .normalize();

    @Test
    void embeddingModelsEmbedAndEachKindRefusesTheOthersWork() throws Exception {
        assertTrue(Files.isRegularFile(BERT), "missing " + BERT);
        serve("1.0.0");
        ModelRuntime bert = runtimes.load("bge", "1.0.0", BERT, Instant.parse("2026-01-01T00:00:00Z"), "anvil");
        runtimes.activate(bert);
        ServedModel m = service.resolve("bge");
        assertTrue(m.embeds());
        assertEquals(new ServedModel.Embedding(256, "MEAN"), m.embedding());
        assertEquals(512, m.contextLength());
        assertNull(bert.scheduler());
        int[] a = m.tokenizer().encode("The quick brown fox jumps over the lazy dog.", true, true);
        assertArrayEquals(new int[] {101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102}, a);
        float[][] e = service.embed("bge", List.of(a, a)).get(60, TimeUnit.SECONDS);
        assertEquals(2, e.length);
        assertEquals(256, e[0].length);
        assertArrayEquals(e[0], e[1]);
        assertEquals(1, metrics.embeddingRequests.get(), "this request (the warm-up goes to the queue itself)");

        InferenceException notGen = assertThrows(
                InferenceException.class,
                () -> service.submit(InferenceRequest.of("bge", a, SamplingParams.GREEDY, 4, List.of())));
        assertEquals("model_not_supported", notGen.code());
        assertTrue(notGen.getMessage().contains("/v1/embeddings"), notGen.getMessage());
        InferenceException notEmb =
                assertThrows(InferenceException.class, () -> service.embed("stories", List.of(prompt("Once"))));
        assertEquals("model_not_supported", notEmb.code());
        assertEquals("model", notEmb.param());

        InferenceException tooLong =
                assertThrows(InferenceException.class, () -> service.embed("bge", List.of(new int[513])));
        assertEquals(InferenceException.Kind.CONTEXT_LENGTH, tooLong.kind());
        assertEquals(
                InferenceException.Kind.INVALID,
                assertThrows(InferenceException.class, () -> service.embed("bge", List.of(new int[] {30522})))
                        .kind());
        assertEquals(
                InferenceException.Kind.INVALID,
                assertThrows(InferenceException.class, () -> service.embed("bge", List.of()))
                        .kind());
    }

    @Test
    void generatesAndReportsEventsThatAddUpToTheResult() throws Exception {
        serve("1.0.0");
        assertEquals(
                List.of("stories"),
                service.models().stream().map(ServedModel::name).toList());
        ServedModel m = service.resolve("stories");
        assertEquals("1.0.0", m.version());
        assertEquals(runtimes.serving("stories").scheduler().kvCache().config().contextLength(), m.contextLength());
        assertTrue(m.contextLength() >= 512);
        assertSame(m, service.resolve("stories@1.0.0"));
        Events events = new Events(1);
        GenerationHandle h = service.submit(greedy("Once upon a time", 40), events);
        GenerationResult r = h.await(Duration.ofSeconds(60));
        assertEquals(1, r.choices().size());
        GenerationResult.Choice c = r.choices().get(0);
        assertEquals(FinishReason.LENGTH, c.finishReason());
        assertEquals(40, c.tokens().length);
        assertTrue(c.text().startsWith(", there was a little girl named Lily"), c.text());
        assertEquals(c.text(), events.text[0].toString(), "the deltas add up to the final text");
        assertEquals(FinishReason.LENGTH, events.finish[0]);
        assertSame(r, events.completed);
        assertNull(events.orderProblem, events.orderProblem);
        assertNull(c.logprobs(), "no logprobs unless asked for");
        assertEquals(new Usage(h.promptTokens(), 40), r.usage());
        assertEquals(45, r.usage().totalTokens());
        assertEquals(1, metrics.completed.get());
        assertEquals(40, metrics.tokens.get());
    }

    @Test
    void aRepeatedLongPromptReportsItsCachedTokensAndTheSameOutput() throws Exception {
        serve("1.0.0");
        String story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun."
                + " One day, she saw a big red ball in the park and ran to get it.";
        GenerationResult first =
                service.submit(greedy(story, 20), new Events(1)).await(Duration.ofSeconds(60));
        assertEquals(0, first.usage().cachedTokens());
        int promptTokens = first.usage().promptTokens();
        assertTrue(promptTokens > 32, "spans several KV blocks: " + promptTokens);
        GenerationResult again =
                service.submit(greedy(story, 20), new Events(1)).await(Duration.ofSeconds(60));
        assertEquals((promptTokens - 1) / 16 * 16, again.usage().cachedTokens(), "all but the last block reused");
        assertEquals(new Usage(promptTokens, 20, again.usage().cachedTokens()), again.usage());
        assertEquals(first.choices().get(0).text(), again.choices().get(0).text());
        assertTrue(runtimes.serving("stories").scheduler().kvCache().cachedBlocks() >= promptTokens / 16);
        // Every choice of a request shares the prompt: usage reports what each of them found cached.
        GenerationResult two = service.submit(new InferenceRequest(
                        "stories", prompt(story), SamplingParams.GREEDY, 5, List.of(), 2, null, "r"))
                .await(Duration.ofSeconds(60));
        assertEquals(again.usage().cachedTokens(), two.usage().cachedTokens());
    }

    @Test
    void choicesOfOneRequestEqualSingleRequestsWithConsecutiveSeeds() throws Exception {
        serve("1.0.0");
        SamplingParams sampled = SamplingParams.DEFAULTS.withTemperature(0.9f).withSeed(500);
        int[] p = prompt("The little dog");
        GenerationResult three = service.submit(
                        new InferenceRequest("stories", p, sampled, 30, List.of(), 3, 2, "req-3"))
                .await(Duration.ofSeconds(60));
        assertEquals("req-3", three.requestId());
        assertEquals(90, three.usage().completionTokens());
        for (int i = 0; i < 3; i++) {
            GenerationResult single = service.submit(
                            new InferenceRequest("stories", p, sampled.withSeed(500 + i), 30, List.of(), 1, 2, null))
                    .await(Duration.ofSeconds(60));
            GenerationResult.Choice a = three.choices().get(i),
                    b = single.choices().get(0);
            assertEquals(i, a.index());
            assertArrayEquals(b.tokens(), a.tokens(), "choice " + i + " is the seed+" + i + " sample");
            assertEquals(b.text(), a.text());
            assertEquals(30, a.logprobs().size());
            for (int t = 0; t < 30; t++) {
                TokenLogprob lp = a.logprobs().get(t);
                assertEquals(a.tokens()[t], lp.token());
                assertEquals(2, lp.top().size());
                assertTrue(lp.logprob() <= 0f
                        && lp.top().get(0).logprob() >= lp.top().get(1).logprob());
            }
        }
        assertFalse(
                three.choices().get(0).text().equals(three.choices().get(1).text())
                        && three.choices()
                                .get(1)
                                .text()
                                .equals(three.choices().get(2).text()),
                "different seeds, different samples");
    }

    @Test
    void aListenerRegisteredLateGetsEverythingReplayed() throws Exception {
        serve("1.0.0");
        GenerationHandle h = service.submit(greedy("Once upon a time", 20));
        GenerationResult r = h.await(Duration.ofSeconds(60));
        Events late = new Events(1);
        h.listen(late);
        assertEquals(r.choices().get(0).text(), late.text[0].toString());
        assertEquals(FinishReason.LENGTH, late.finish[0]);
        assertSame(r, late.completed);
        assertThrows(IllegalStateException.class, () -> h.listen(new Events(1)));
    }

    @Test
    void stopStringsEndAChoiceWithStopAndAreNotEmitted() throws Exception {
        serve("1.0.0");
        GenerationResult r = service.submit(InferenceRequest.of(
                        "stories", prompt("Once upon a time"), SamplingParams.GREEDY, 100, List.of("Lily")))
                .await(Duration.ofSeconds(60));
        GenerationResult.Choice c = r.choices().get(0);
        assertEquals(FinishReason.STOP, c.finishReason());
        assertEquals(", there was a little girl named ", c.text());
    }

    @Test
    void badRequestsFailWithTheirKindAndQueueNothing() throws Exception {
        ModelRuntime rt = serve("1.0.0");
        int[] p = prompt("Once upon a time");
        int context = service.resolve("stories").contextLength();
        assertKind(InferenceException.Kind.NOT_FOUND, "model", () -> service.resolve("nope"));
        assertKind(InferenceException.Kind.NOT_FOUND, "model", () -> service.resolve("stories@9.9.9"));
        assertKind(InferenceException.Kind.INVALID, "model", () -> service.resolve(" "));
        assertKind(InferenceException.Kind.INVALID, "model", () -> service.resolve("stories@"));
        assertKind(
                InferenceException.Kind.INVALID,
                "prompt",
                () -> service.submit(InferenceRequest.of("stories", new int[0], null, 5, null)));
        assertKind(
                InferenceException.Kind.INVALID,
                "n",
                () -> service.submit(new InferenceRequest("stories", p, null, 5, null, 0, null, null)));
        assertKind(
                InferenceException.Kind.INVALID,
                "n",
                () -> service.submit(new InferenceRequest("stories", p, null, 5, null, 5, null, null)));
        assertKind(
                InferenceException.Kind.INVALID,
                "logprobs",
                () -> service.submit(new InferenceRequest("stories", p, null, 5, null, 1, 21, null)));
        assertKind(
                InferenceException.Kind.INVALID,
                "max_tokens",
                () -> service.submit(InferenceRequest.of("stories", p, null, 0, null)));
        InferenceException ctx = assertKind(
                InferenceException.Kind.CONTEXT_LENGTH,
                "max_tokens",
                () -> service.submit(InferenceRequest.of("stories", p, null, context - p.length + 1, null)));
        assertTrue(ctx.getMessage().contains(String.valueOf(context)), ctx.getMessage());
        assertEquals("context_length_exceeded", ctx.code());
        assertKind(
                InferenceException.Kind.CONTEXT_LENGTH,
                "messages",
                () -> service.submit(InferenceRequest.of("stories", new int[context + 1], null, null, null)));
        assertKind(
                InferenceException.Kind.CONTEXT_LENGTH,
                "messages",
                () -> service.submit(InferenceRequest.of("stories", new int[context], null, null, null)));
        assertKind(
                InferenceException.Kind.INVALID,
                "prompt",
                () -> service.submit(InferenceRequest.of("stories", new int[] {1, 4096}, null, 3, null)));
        assertEquals(0, rt.scheduler().stats().waiting());
        assertEquals(
                rt.scheduler().kvCache().totalBlocks(), rt.scheduler().kvCache().freeBlocks());
    }

    @Test
    void withoutMaxTokensTheCompletionMayFillTheContext() throws Exception {
        serve("1.0.0");
        int[] nearlyFull = new int[service.resolve("stories").contextLength() - 3];
        java.util.Arrays.fill(nearlyFull, prompt("the")[1]);
        nearlyFull[0] = 1;
        GenerationResult r = service.submit(
                        InferenceRequest.of("stories", nearlyFull, SamplingParams.GREEDY, null, null))
                .await(Duration.ofSeconds(60));
        GenerationResult.Choice c = r.choices().get(0);
        // 3 tokens of room: either the model stops by itself before, or exactly 3 are generated.
        assertTrue(
                c.finishReason() == FinishReason.STOP ? c.tokens().length <= 3 : c.tokens().length == 3,
                c.finishReason() + " " + c.tokens().length);
    }

    @Test
    void cancelEndsEveryChoiceAndFreesTheCache() throws Exception {
        ModelRuntime rt = serve("1.0.0");
        Events events = new Events(2);
        GenerationHandle h = service.submit(
                new InferenceRequest(
                        "stories",
                        prompt("Once upon a time"),
                        SamplingParams.DEFAULTS.withSeed(1),
                        400,
                        List.of(),
                        2,
                        null,
                        null),
                events);
        assertTrue(events.firstDelta.await(30, TimeUnit.SECONDS));
        h.cancel();
        GenerationResult r = h.await(Duration.ofSeconds(30));
        for (GenerationResult.Choice c : r.choices()) {
            assertEquals(FinishReason.CANCELLED, c.finishReason());
            assertTrue(c.tokens().length < 400);
        }
        assertEquals(FinishReason.CANCELLED, events.finish[0]);
        assertEquals(FinishReason.CANCELLED, events.finish[1]);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (rt.scheduler().kvCache().freeBlocks() != rt.scheduler().kvCache().totalBlocks()
                && System.nanoTime() < deadline) Thread.onSpinWait();
        assertEquals(
                rt.scheduler().kvCache().totalBlocks(), rt.scheduler().kvCache().freeBlocks(), "blocks came back");
    }

    @Test
    void fullQueueIsOverloadedWithRetryAfter() throws Exception {
        config.maxQueue = 2;
        config.maxBatchSequences = 1;
        ModelRuntime rt = serve("1.0.0");
        // One running, two waiting: the queue is full for the next one.
        List<GenerationHandle> accepted = new ArrayList<>();
        Events first = new Events(1);
        accepted.add(service.submit(greedy("Once upon a time", 400), first));
        assertTrue(first.firstDelta.await(30, TimeUnit.SECONDS));
        accepted.add(service.submit(greedy("Once upon a time", 5)));
        accepted.add(service.submit(greedy("Once upon a time", 5)));
        InferenceException e =
                assertKind(InferenceException.Kind.OVERLOADED, null, () -> service.submit(greedy("Mom said", 5)));
        assertTrue(e.retryAfterSeconds() >= 1, "retry after " + e.retryAfterSeconds());
        assertTrue(metrics.rejected.contains("OVERLOADED"));
        // n = 2 with one free queue slot: nothing of the request may stay queued.
        accepted.get(1).cancel();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (rt.scheduler().stats().waiting() > 1 && System.nanoTime() < deadline) Thread.onSpinWait();
        assertKind(
                InferenceException.Kind.OVERLOADED,
                null,
                () -> service.submit(new InferenceRequest("stories", prompt("Mom"), null, 5, null, 2, null, null)));
        for (GenerationHandle h : accepted) h.cancel();
        for (GenerationHandle h : accepted) h.await(Duration.ofSeconds(30));
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!rt.scheduler().isIdle() && System.nanoTime() < deadline) Thread.onSpinWait();
        assertTrue(rt.scheduler().isIdle(), "the abandoned first choice was cancelled too");
    }

    @Test
    void promotionSwitchesTrafficWhileTheOldVersionFinishesItsRequests() throws Exception {
        ModelRuntime v1 = serve("1.0.0");
        Events inFlight = new Events(1);
        // Listeners run on the batching thread: holding the first delta keeps v1's sequence open (it cannot finish
        // its 300 tokens however fast the machine) until the test has seen the switch and v2 serving.
        CountDownLatch release = new CountDownLatch(1);
        GenerationHandle old = service.submit(greedy("Once upon a time", 300), heldUntil(release, inFlight));
        ModelRuntime v2;
        try {
            assertTrue(inFlight.firstDelta.await(30, TimeUnit.SECONDS));
            v2 = serve("1.1.0");
            assertEquals(ModelRuntime.State.DRAINING, v1.state());
            assertEquals("1.1.0", service.resolve("stories").version());
            GenerationResult fresh =
                    service.submit(greedy("Once upon a time", 10)).await(Duration.ofSeconds(60));
            assertEquals("1.1.0", fresh.model().version());
            assertEquals(ModelRuntime.State.DRAINING, v1.state(), "v1 still finishes its request");
        } finally {
            release.countDown();
        }
        GenerationResult finished = old.await(Duration.ofSeconds(120));
        assertEquals("1.0.0", finished.model().version());
        assertEquals(FinishReason.LENGTH, finished.choices().get(0).finishReason());
        assertEquals(300, finished.choices().get(0).tokens().length, "the in-flight request was not dropped");
        v1.stopped().get(30, TimeUnit.SECONDS);
        assertEquals(ModelRuntime.State.STOPPED, v1.state());
        assertEquals(List.of(v2), runtimes.allRuntimes());
        assertKind(InferenceException.Kind.NOT_FOUND, "model", () -> service.resolve("stories@1.0.0"));
        assertEquals(2, metrics.registered.get());
        assertEquals(1, metrics.unregistered.get());
        runtimes.deactivate("stories");
        assertKind(InferenceException.Kind.NOT_FOUND, "model", () -> service.resolve("stories"));
    }

    @Test
    void aModelWhoseLoopGetsNoExecutorThreadFailsToLoadInsteadOfHanging() throws Exception {
        ExecutorService single = Executors.newFixedThreadPool(1);
        try {
            runtimes.batching = delegating(ManagedExecutorService.class, single);
            config.loopStartTimeoutSeconds = 1;
            serve("1.0.0");
            IllegalStateException e = assertThrows(
                    IllegalStateException.class, () -> runtimes.load("other", "1.0.0", MODEL, Instant.now(), "anvil"));
            assertTrue(e.getMessage().contains("anvil-batching"), e.getMessage());
            assertEquals(
                    List.of("stories"),
                    service.models().stream().map(ServedModel::name).toList());
            assertEquals(1, runtimes.allRuntimes().size(), "the failed runtime was unloaded");
            assertEquals(
                    FinishReason.LENGTH,
                    service.submit(greedy("Once", 5))
                            .await(Duration.ofSeconds(30))
                            .choices()
                            .get(0)
                            .finishReason());
        } finally {
            runtimes.unloadAll();
            single.shutdown();
            assertTrue(single.awaitTermination(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void startupModelSpecs() {
        ServingLifecycle.StartupModel full = ServingLifecycle.StartupModel.parse("tiny=2.0.1=/models/x.gguf");
        assertEquals(new ServingLifecycle.StartupModel("tiny", "2.0.1", Path.of("/models/x.gguf")), full);
        ServingLifecycle.StartupModel bare = ServingLifecycle.StartupModel.parse("/srv/models/SmolLM2 135M.Q8_0.gguf");
        assertEquals("smollm2-135m.q8_0", bare.name());
        assertEquals("1.0.0", bare.version());
        assertThrows(IllegalArgumentException.class, () -> ServingLifecycle.StartupModel.parse("a=b"));
    }

    /**
     * Passes every event to {@code events}, each delta the batching thread delivers only once {@code release} has
     * opened (or a minute passed). Deltas produced before the listener was registered are replayed on the submitting
     * thread while the handle holds the batching thread off: those pass at once (holding them would hold the test
     * thread that opens {@code release}), and the next delta, from the batching thread, holds the sequence.
     */
    static GenerationListener heldUntil(CountDownLatch release, Events events) {
        Thread submitter = Thread.currentThread();
        return new GenerationListener() {
            @Override
            public void onDelta(int index, String text, TokenLogprob logprob) {
                events.onDelta(index, text, logprob);
                if (Thread.currentThread() == submitter) return;
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }

            @Override
            public void onFinish(int index, FinishReason reason) {
                events.onFinish(index, reason);
            }

            @Override
            public void onComplete(GenerationResult result) {
                events.onComplete(result);
            }

            @Override
            public void onError(Throwable error) {
                events.onError(error);
            }
        };
    }

    static InferenceException assertKind(
            InferenceException.Kind kind, String param, org.junit.jupiter.api.function.Executable call) {
        InferenceException e = assertThrows(InferenceException.class, call);
        assertEquals(kind, e.kind(), e.getMessage());
        assertEquals(param, e.param(), e.getMessage());
        assertNotNull(e.getMessage());
        return e;
    }
}
