package dev.anvil.api.openai;

import dev.anvil.api.ApiErrors;
import dev.anvil.serving.FinishReason;
import dev.anvil.serving.TokenLogprob;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Writes a {@link Submission}'s events as Server-Sent Events: {@code data: {json}\n\n} per chunk, flushed as soon
 * as the events available at that moment are written, then an optional usage chunk and {@code data: [DONE]}.
 * A failed write means the client went away: the generations are cancelled so their KV cache frees at the next
 * batching step. Every write is watched by {@link OpenStreams}: one that blocks longer than the write timeout (a
 * client that stopped reading) is cut. Runs on a writer thread, never on the batching thread; when it returns,
 * whatever the request held for its answer is given back.
 */
final class SseStream implements StreamingOutput {

    private static final Logger LOG = Logger.getLogger(SseStream.class.getName());
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);
    /** An SSE comment: ignored by clients, but a write that fails tells us a waiting client has gone. */
    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.UTF_8);

    private static final long KEEP_ALIVE_MILLIS = 10_000;

    /** Where the events come from: a {@link Submission} (an interface so the writer can be tested alone). */
    interface EventSource {
        /** The response id, for logs. */
        String id();

        /** How many prompts (each ends with one {@code Complete} event). */
        int prompts();

        int promptTokens();

        /** The next event, or null after {@code timeoutMillis}. */
        Submission.Event poll(long timeoutMillis) throws InterruptedException;

        /** The next event if one is ready now, else null. */
        Submission.Event pollNow();

        /** Stops the generations. */
        void cancel();
    }

    /** Turns events into chunk objects (JSON-B serializable); differs between completions and chat. */
    interface ChunkFormat {
        /** Chunks sent before any token (chat: the role of each choice; completions with echo: the prompt). */
        List<Object> opening();

        /** The chunks for new text (and/or a logprob) of choice {@code index}; none to send nothing yet. */
        List<Object> delta(int index, String text, TokenLogprob logprob);

        /** The chunks that end choice {@code index}: what it still held, then the finish reason. */
        List<Object> finish(int index, FinishReason reason);

        /**
         * The {@code stream_options.include_usage} chunk: usage with an empty choices list; {@code cachedTokens} of the
         * prompt tokens came from the prefix cache.
         */
        Object usage(int promptTokens, int completionTokens, int cachedTokens);
    }

    private final EventSource submission;
    private final ChunkFormat format;
    private final boolean includeUsage;
    private final long deadlineNanos;
    /** The stream's place among the open streams (its writes are watched), or null when not watched. */
    private final OpenStreams.Stream watched;
    /** Runs once the stream has ended, however it ended. */
    private final Runnable onEnd;

    SseStream(EventSource submission, ChunkFormat format, boolean includeUsage, long timeoutSeconds) {
        this(submission, format, includeUsage, timeoutSeconds, null, () -> {});
    }

    SseStream(
            EventSource submission,
            ChunkFormat format,
            boolean includeUsage,
            long timeoutSeconds,
            OpenStreams.Stream watched,
            Runnable onEnd) {
        this.submission = submission;
        this.format = format;
        this.includeUsage = includeUsage;
        this.deadlineNanos = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        this.watched = watched;
        this.onEnd = onEnd;
    }

    @Override
    public void write(OutputStream out) {
        try {
            stream(watched == null ? out : watched.watch(out));
        } catch (IOException e) {
            submission.cancel();
            if (watched != null && watched.wasCut()) {
                Thread.interrupted(); // the watchdog's interrupt ended the blocked write; this thread goes on
            } else {
                LOG.fine(() -> "client of " + submission.id() + " went away (" + e + "); generation cancelled");
            }
        } catch (InterruptedException e) {
            submission.cancel();
            if (watched == null || !watched.wasCut()) Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            submission.cancel();
            LOG.log(Level.WARNING, "streaming " + submission.id() + " failed", e);
        } finally {
            onEnd.run();
        }
    }

    private void stream(OutputStream out) throws IOException, InterruptedException {
        for (Object chunk : format.opening()) {
            send(out, chunk);
        }
        out.flush();
        int pending = submission.prompts();
        int completionTokens = 0, cachedTokens = 0;
        while (pending > 0) {
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) {
                submission.cancel();
                send(
                        out,
                        ApiErrors.body(
                                ApiErrors.TYPE_SERVER,
                                "the request did not finish within " + OpenAiConfig.REQUEST_TIMEOUT_SECONDS
                                        + " and was cancelled",
                                null,
                                "timeout"));
                out.write(DONE);
                out.flush();
                return;
            }
            Submission.Event event = submission.poll(Math.min(KEEP_ALIVE_MILLIS, Math.max(1, left / 1_000_000)));
            if (event == null) {
                out.write(KEEP_ALIVE);
                out.flush();
                continue;
            }
            // Write everything that is ready, then flush once: each chunk leaves as soon as it exists, but a
            // burst (n > 1, several prompts) does not cost one flush per chunk.
            do {
                switch (event) {
                    case Submission.Event.Delta d -> {
                        for (Object chunk : format.delta(d.index(), d.text(), d.logprob())) send(out, chunk);
                    }
                    case Submission.Event.Finish f -> {
                        for (Object chunk : format.finish(f.index(), f.reason())) send(out, chunk);
                    }
                    case Submission.Event.Complete c -> {
                        pending--;
                        completionTokens += c.result().usage().completionTokens();
                        cachedTokens += c.result().usage().cachedTokens();
                    }
                    case Submission.Event.Filtered filtered -> {
                        // The text of this choice may not go on: stop everything, say which guardrail and why.
                        submission.cancel();
                        send(
                                out,
                                ApiErrors.body(
                                        GuardrailErrors.TYPE,
                                        filtered.message(),
                                        filtered.check(),
                                        GuardrailErrors.CODE));
                        for (Object chunk : format.finish(filtered.index(), FinishReason.CONTENT_FILTER))
                            send(out, chunk);
                        out.write(DONE);
                        out.flush();
                        return;
                    }
                    case Submission.Event.Failed failed -> {
                        submission.cancel();
                        LOG.log(Level.WARNING, "generation " + submission.id() + " failed", failed.error());
                        send(
                                out,
                                ApiErrors.body(
                                        ApiErrors.TYPE_SERVER,
                                        "generation failed: " + failed.error().getMessage(),
                                        null,
                                        "generation_failed"));
                        out.write(DONE);
                        out.flush();
                        return;
                    }
                }
                event = pending > 0 ? submission.pollNow() : null;
            } while (event != null);
            out.flush();
        }
        if (includeUsage) {
            send(out, format.usage(submission.promptTokens(), completionTokens, cachedTokens));
        }
        out.write(DONE);
        out.flush();
    }

    private static void send(OutputStream out, Object chunk) throws IOException {
        out.write(("data: " + OpenAiJson.toJson(chunk) + "\n\n").getBytes(StandardCharsets.UTF_8));
    }
}
