package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.serving.GenerationHandle;
import dev.anvil.serving.ServedModel;
import jakarta.ws.rs.container.AsyncResponse;
import jakarta.ws.rs.container.CompletionCallback;
import jakarta.ws.rs.container.TimeoutHandler;
import jakarta.ws.rs.core.Response;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** How a plain answer is written: what stays queued once the request is answered. */
class AnswerWriterTest {

    private static final ServedModel MODEL = new ServedModel("m", "1.0.0", null, 512, null, Instant.EPOCH, "anvil");

    /** The container's side of a suspended request: completion callbacks run once the response is written. */
    static final class SuspendedRequest implements AsyncResponse {
        final List<CompletionCallback> callbacks = new ArrayList<>();
        final CompletableFuture<Object> answer = new CompletableFuture<>();

        @Override
        public synchronized boolean resume(Object response) {
            if (answer.isDone()) return false;
            for (CompletionCallback c : callbacks) c.onComplete(null);
            answer.complete(response);
            return true;
        }

        @Override
        public boolean resume(Throwable response) {
            return resume((Object) response);
        }

        @Override
        public boolean cancel() {
            return resume(Response.status(503).build());
        }

        @Override
        public boolean cancel(int retryAfter) {
            return cancel();
        }

        @Override
        public boolean cancel(Date retryAfter) {
            return cancel();
        }

        @Override
        public boolean isSuspended() {
            return !answer.isDone();
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public boolean isDone() {
            return answer.isDone();
        }

        @Override
        public boolean setTimeout(long time, TimeUnit unit) {
            throw new AssertionError("the writer keeps its own deadlines (a container timeout pins the request)");
        }

        @Override
        public void setTimeoutHandler(TimeoutHandler handler) {
            throw new AssertionError("the writer keeps its own deadlines (a container timeout pins the request)");
        }

        @Override
        public Collection<Class<?>> register(Class<?> callback) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Map<Class<?>, Collection<Class<?>>> register(Class<?> callback, Class<?>... callbacks) {
            throw new UnsupportedOperationException();
        }

        @Override
        public synchronized Collection<Class<?>> register(Object callback) {
            callbacks.add((CompletionCallback) callback);
            return List.of(CompletionCallback.class);
        }

        @Override
        public Map<Class<?>, Collection<Class<?>>> register(Object callback, Object... callbacks) {
            throw new UnsupportedOperationException();
        }
    }

    @Test
    void anAnsweredRequestLeavesNothingQueuedThatKeepsItReachable() throws Exception {
        AnswerWriter writer = new AnswerWriter();
        writer.config = new OpenAiConfig();
        writer.config.requestTimeoutSeconds = 600;
        try {
            for (int i = 0; i < 3; i++) {
                SuspendedRequest request = new SuspendedRequest();
                GenerationHandle done = GenerationHandle.completed("cmpl-" + i, MODEL, 3, 1, "Once", new int[] {7});
                Submission submission = Submission.live(
                        "cmpl-" + i,
                        MODEL,
                        1,
                        List.of(done),
                        List.of("p"),
                        false,
                        new Submission.Setup(null, null, null, null, List.of()));
                writer.complete(request, submission, results -> Map.of("choices", results.size()), "prompt");
                // Answered (this classpath has no JAX-RS runtime to build the Response, so the answer may be that
                // error: either way the request is resumed, which is what releases its deadline).
                request.answer.get(10, TimeUnit.SECONDS);
                assertTrue(request.isDone());
            }
            assertEquals(0, writer.pendingDeadlines(), "answered requests' deadlines must leave the queue at once");
        } finally {
            writer.shutdown();
        }
    }
}
