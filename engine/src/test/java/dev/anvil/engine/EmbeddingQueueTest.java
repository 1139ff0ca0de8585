package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link EmbeddingQueue}: concurrent requests share forward passes, results are per request, bounds hold. */
class EmbeddingQueueTest {

    static BertEncoder encoder;

    @BeforeAll
    static void load() throws IOException {
        encoder = BertEncoder.load(
                TestData.sharedDir().resolve("reference/arch/bert-f16.gguf"), ComputePool.defaultFactory(), 2);
    }

    @AfterAll
    static void close() {
        encoder.close();
    }

    @Test
    void requestsWaitingTogetherRunAsOnePassWithTheirOwnResults() throws Exception {
        EmbeddingQueue queue = new EmbeddingQueue(encoder, new EmbeddingQueue.Config(16, 4096));
        List<List<int[]>> requests = List.of(
                List.of(encoder.tokenize("first request"), encoder.tokenize("has two inputs")),
                List.of(encoder.tokenize("second")),
                List.of(encoder.tokenize("third, a longer one: the quick brown fox jumps over the lazy dog")));
        List<CompletableFuture<float[][]>> futures = new ArrayList<>();
        for (List<int[]> r : requests) futures.add(queue.submit(r)); // all waiting before the loop starts
        Thread loop = Thread.ofPlatform().start(queue::run);
        for (int i = 0; i < requests.size(); i++) {
            float[][] got = futures.get(i).get(30, TimeUnit.SECONDS);
            float[][] alone = encoder.embed(requests.get(i));
            assertEquals(alone.length, got.length);
            for (int j = 0; j < got.length; j++) assertArrayEquals(alone[j], got[j]);
        }
        EmbeddingQueue.Stats stats = queue.stats();
        assertEquals(1, stats.passes(), "three waiting requests, one forward pass");
        assertEquals(4, stats.inputs());
        queue.drain(5, TimeUnit.SECONDS);
        loop.join(5000);
        assertTrue(!loop.isAlive());
    }

    @Test
    void aBatchStopsAtTheTokenBudget() throws Exception {
        int[] ids = encoder.tokenize("ten tokens or so in this one input here");
        EmbeddingQueue queue = new EmbeddingQueue(encoder, new EmbeddingQueue.Config(16, ids.length * 2));
        List<CompletableFuture<float[][]>> futures = new ArrayList<>();
        for (int i = 0; i < 4; i++) futures.add(queue.submit(List.of(ids)));
        Thread loop = Thread.ofPlatform().start(queue::run);
        for (CompletableFuture<float[][]> f : futures) f.get(30, TimeUnit.SECONDS);
        assertEquals(2, queue.stats().passes());
        queue.close();
        loop.join(5000);
    }

    @Test
    void aRequestLargerThanThePassBudgetIsCutBetweenInputs() throws Exception {
        int[] ids = encoder.tokenize("ten tokens or so in this one input here");
        EmbeddingQueue queue = new EmbeddingQueue(encoder, new EmbeddingQueue.Config(1, ids.length * 2));
        List<int[]> five = List.of(ids, ids, ids, ids, ids);
        CompletableFuture<float[][]> f = queue.submit(five); // one request, however many pieces
        Thread loop = Thread.ofPlatform().start(queue::run);
        float[][] got = f.get(30, TimeUnit.SECONDS);
        assertEquals(5, got.length);
        float[] alone = encoder.embed(List.of(ids))[0];
        for (float[] e : got) assertArrayEquals(alone, e);
        assertEquals(3, queue.stats().passes(), "2 + 2 + 1 inputs");
        queue.close();
        loop.join(5000);
    }

    @Test
    void refusesBeyondTheQueueBoundAndAfterClosing() throws Exception {
        EmbeddingQueue queue = new EmbeddingQueue(encoder, new EmbeddingQueue.Config(1, 512));
        CompletableFuture<float[][]> first = queue.submit(List.of(encoder.tokenize("a")));
        SubmissionRejectedException full =
                assertThrows(SubmissionRejectedException.class, () -> queue.submit(List.of(encoder.tokenize("b"))));
        assertEquals(SubmissionRejectedException.Reason.OVERLOADED, full.reason());
        queue.close();
        queue.run(); // ends at once, failing what waits
        ExecutionException e = assertThrows(ExecutionException.class, () -> first.get(5, TimeUnit.SECONDS));
        assertInstanceOf(SubmissionRejectedException.class, e.getCause());
        SubmissionRejectedException closed =
                assertThrows(SubmissionRejectedException.class, () -> queue.submit(List.of(encoder.tokenize("c"))));
        assertEquals(SubmissionRejectedException.Reason.CLOSED, closed.reason());
    }

    @Test
    void aFailingInputFailsOnlyItsOwnRequest() throws Exception {
        EmbeddingQueue queue = new EmbeddingQueue(encoder, new EmbeddingQueue.Config(16, 4096));
        CompletableFuture<float[][]> good = queue.submit(List.of(encoder.tokenize("fine")));
        CompletableFuture<float[][]> bad = queue.submit(List.of(new int[] {101, 99999, 102}));
        Thread loop = Thread.ofPlatform().start(queue::run);
        assertEquals(256, good.get(30, TimeUnit.SECONDS)[0].length);
        ExecutionException e = assertThrows(ExecutionException.class, () -> bad.get(30, TimeUnit.SECONDS));
        assertInstanceOf(IllegalArgumentException.class, e.getCause());
        queue.close();
        loop.join(5000);
    }
}
