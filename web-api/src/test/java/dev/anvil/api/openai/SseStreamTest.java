package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.TokenLogprob;
import dev.anvil.serving.Usage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The SSE writer alone: framing, order, usage chunk, [DONE], flushing, and cancellation on a failed write. */
public class SseStreamTest {

    /** Events fed by the test instead of the scheduler. */
    static final class Source implements SseStream.EventSource {
        final LinkedBlockingQueue<Submission.Event> events = new LinkedBlockingQueue<>();
        final int prompts;
        volatile boolean cancelled;

        Source(int prompts, Submission.Event... initial) {
            this.prompts = prompts;
            events.addAll(List.of(initial));
        }

        @Override
        public String id() {
            return "test-1";
        }

        @Override
        public int prompts() {
            return prompts;
        }

        @Override
        public int promptTokens() {
            return 5;
        }

        @Override
        public Submission.Event poll(long timeoutMillis) throws InterruptedException {
            return events.poll(timeoutMillis, TimeUnit.MILLISECONDS);
        }

        @Override
        public Submission.Event pollNow() {
            return events.poll();
        }

        @Override
        public void cancel() {
            cancelled = true;
        }
    }

    public record Open(int open) {}

    public record Text(int i, String t) {}

    public record Fin(int i, String f) {}

    public record Use(int p, int c) {}

    /** Minimal chunks (properties are written in lexicographic order), so the test sees exactly what the writer does. */
    static final SseStream.ChunkFormat FORMAT = new SseStream.ChunkFormat() {
        @Override
        public List<Object> opening() {
            return List.of(new Open(0));
        }

        @Override
        public List<Object> delta(int index, String text, TokenLogprob logprob) {
            return text.isEmpty() ? List.of() : List.of(new Text(index, text));
        }

        @Override
        public List<Object> finish(int index, FinishReason reason) {
            return List.of(new Fin(index, reason.openAiName()));
        }

        @Override
        public Object usage(int promptTokens, int completionTokens, int cachedTokens) {
            return new Use(promptTokens, completionTokens);
        }
    };

    private static Submission.Event complete(int prompt, int completionTokens) {
        return new Submission.Event.Complete(
                prompt, new GenerationResult("r", null, List.of(), new Usage(5, completionTokens)));
    }

    /** Counts flushes to check that chunks leave as they are written, not at the end. */
    static final class CountingStream extends ByteArrayOutputStream {
        int flushes;

        @Override
        public void flush() {
            flushes++;
        }
    }

    @Test
    void writesChunksInOrderThenUsageAndDone() {
        Source source = new Source(
                2,
                new Submission.Event.Delta(0, "Once", null),
                new Submission.Event.Delta(1, "", null),
                new Submission.Event.Delta(1, " The", null),
                new Submission.Event.Finish(0, FinishReason.LENGTH),
                complete(0, 2),
                new Submission.Event.Finish(1, FinishReason.STOP),
                complete(1, 3));
        CountingStream out = new CountingStream();
        new SseStream(source, FORMAT, true, 60).write(out);
        assertEquals(
                "data: {\"open\":0}\n\n"
                        + "data: {\"i\":0,\"t\":\"Once\"}\n\n"
                        + "data: {\"i\":1,\"t\":\" The\"}\n\n"
                        + "data: {\"f\":\"length\",\"i\":0}\n\n"
                        + "data: {\"f\":\"stop\",\"i\":1}\n\n"
                        + "data: {\"c\":5,\"p\":5}\n\n"
                        + "data: [DONE]\n\n",
                out.toString(StandardCharsets.UTF_8));
        assertTrue(out.flushes >= 2, "flushed after the opening and after the events: " + out.flushes);
        assertFalse(source.cancelled);
    }

    @Test
    void withoutIncludeUsageThereIsNoUsageChunk() {
        Source source = new Source(1, new Submission.Event.Delta(0, "x", null), complete(0, 1));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new SseStream(source, FORMAT, false, 60).write(out);
        String text = out.toString(StandardCharsets.UTF_8);
        assertFalse(text.contains("\"c\":"), text);
        assertTrue(text.endsWith("data: [DONE]\n\n"), text);
    }

    @Test
    void aFailedWriteCancelsTheGeneration() {
        Source source = new Source(1, new Submission.Event.Delta(0, "x", null));
        OutputStream gone = new OutputStream() {
            int writes;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                if (++writes > 1) throw new IOException("Broken pipe");
            }
        };
        new SseStream(source, FORMAT, false, 60).write(gone); // must not throw
        assertTrue(source.cancelled, "a client that went away must cancel its sequences");
    }

    @Test
    void aFailedGenerationEndsTheStreamWithAnErrorEvent() {
        Source source = new Source(
                1,
                new Submission.Event.Delta(0, "x", null),
                new Submission.Event.Failed(new IllegalStateException("engine exploded")));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new SseStream(source, FORMAT, true, 60).write(out);
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("\"code\":\"generation_failed\""), text);
        assertTrue(text.contains("engine exploded"), text);
        assertTrue(text.endsWith("data: [DONE]\n\n"), text);
        assertTrue(source.cancelled);
    }
}
