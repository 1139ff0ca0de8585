package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.serving.FinishReason;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * The bound on open streams and the write watchdog, with {@link SseStream} writing to a sink that stops being read
 * (a pipe nobody reads blocks its writer once its buffer is full, as a socket to a client that stopped reading does).
 */
class OpenStreamsTest {

    private static OpenStreams streams(int maxOpen, long writeTimeoutSeconds) {
        OpenStreams streams = new OpenStreams();
        OpenAiConfig config = new OpenAiConfig();
        config.maxOpenStreams = maxOpen;
        config.streamWriteTimeoutSeconds = writeTimeoutSeconds;
        streams.config = config;
        return streams; // no scheduler: the tests run the watchdog's scan themselves
    }

    @Test
    void atMostTheBoundIsOpenAndAClosedStreamGivesItsPlaceBackOnce() {
        OpenStreams streams = streams(2, 30);
        OpenStreams.Stream a = streams.tryAdmit();
        OpenStreams.Stream b = streams.tryAdmit();
        assertNotNull(a);
        assertNotNull(b);
        assertNull(streams.tryAdmit(), "a third stream is refused");
        assertEquals(1, streams.refusedCount());
        a.close();
        a.close();
        assertEquals(1, streams.openCount(), "closed twice, given back once");
        assertNotNull(streams.tryAdmit());
        OpenStreams unbounded = streams(0, 30);
        for (int i = 0; i < 1000; i++) assertNotNull(unbounded.tryAdmit());
    }

    @Test
    void aWriteInProgressIsCutOnlyAfterTheTimeout() throws Exception {
        OpenStreams streams = streams(10, 1);
        OpenStreams.Stream stream = streams.tryAdmit();
        AtomicBoolean cancelled = new AtomicBoolean();
        stream.onCut("cmpl-t", () -> cancelled.set(true));
        CountDownLatch writing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        OutputStream slow = stream.watch(new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                writing.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException("interrupted");
                }
            }
        });
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                slow.write('x');
            } catch (IOException ignored) {
                // the cut
            }
        });
        assertTrue(writing.await(10, TimeUnit.SECONDS));
        long now = System.nanoTime();
        streams.scan(now);
        assertFalse(stream.wasCut(), "a write that just started is not stuck");
        streams.scan(now + TimeUnit.SECONDS.toNanos(2));
        assertTrue(stream.wasCut());
        assertTrue(cancelled.get());
        writer.join(Duration.ofSeconds(10));
        assertFalse(writer.isAlive(), "the blocked writer was interrupted");
        assertEquals(1, streams.cutCount());
        streams.scan(now + TimeUnit.SECONDS.toNanos(5));
        assertEquals(1, streams.cutCount(), "a stream is cut once");
    }

    @Test
    void anIdleStreamIsNeverCut() {
        OpenStreams streams = streams(10, 1);
        OpenStreams.Stream stream = streams.tryAdmit();
        streams.scan(System.nanoTime() + TimeUnit.HOURS.toNanos(1));
        assertFalse(stream.wasCut(), "waiting for tokens is not a stuck write");
    }

    @Test
    void aClientThatStopsReadingIsCutTheGenerationCancelledAndTheStreamEnded() throws Exception {
        OpenStreams streams = streams(10, 1);
        OpenStreams.Stream stream = streams.tryAdmit();
        SseStreamTest.Source source = new SseStreamTest.Source(1);
        for (int i = 0; i < 2000; i++) source.events.add(new Submission.Event.Delta(0, "token number " + i, null));
        source.events.add(new Submission.Event.Finish(0, FinishReason.LENGTH));
        PipedInputStream client = new PipedInputStream(1024); // a reader that reads nothing
        PipedOutputStream socket = new PipedOutputStream(client);
        CountDownLatch ended = new CountDownLatch(1);
        stream.onCut("cmpl-t", source::cancel);
        SseStream sse = new SseStream(source, SseStreamTest.FORMAT, false, 600, stream, () -> {
            stream.close();
            ended.countDown();
        });
        Thread writer = Thread.ofVirtual().start(() -> sse.write(socket));
        Instant deadline = Instant.now().plusSeconds(20);
        while (!stream.wasCut() && Instant.now().isBefore(deadline)) {
            streams.scan(System.nanoTime()); // what the scheduled watchdog does every 250 ms
            ended.await(100, TimeUnit.MILLISECONDS);
        }
        assertTrue(stream.wasCut(), "the stuck write was cut");
        assertTrue(ended.await(10, TimeUnit.SECONDS), "the stream ended");
        writer.join(Duration.ofSeconds(10));
        assertFalse(writer.isAlive());
        assertTrue(source.cancelled, "its generation was cancelled");
        assertEquals(0, streams.openCount(), "its place was given back");
        assertFalse(writer.isInterrupted());
        byte[] received = client.readNBytes(client.available()); // what the stuck client was sent (its pipe's buffer)
        assertTrue(received.length > 0);
        assertFalse(new String(received, StandardCharsets.UTF_8).contains("[DONE]"), "the stream did not finish");
    }

    @Test
    void aReadingClientIsNeverCut() {
        OpenStreams streams = streams(10, 1);
        OpenStreams.Stream stream = streams.tryAdmit();
        SseStreamTest.Source source = new SseStreamTest.Source(
                1,
                new Submission.Event.Delta(0, "x", null),
                new Submission.Event.Finish(0, FinishReason.STOP),
                new Submission.Event.Complete(
                        0,
                        new dev.anvil.serving.GenerationResult(
                                "r", null, java.util.List.of(), new dev.anvil.serving.Usage(5, 1))));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new SseStream(source, SseStreamTest.FORMAT, false, 60, stream, stream::close).write(out);
        assertTrue(out.toString(StandardCharsets.UTF_8).endsWith("data: [DONE]\n\n"));
        assertFalse(stream.wasCut());
        assertEquals(0, streams.openCount());
    }
}
