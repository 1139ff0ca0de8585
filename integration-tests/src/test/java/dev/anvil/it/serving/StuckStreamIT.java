package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import dev.anvil.it.PrometheusText;
import dev.anvil.it.StuckStreamClient;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A streaming client that stops reading (AnvilServer starts the server with a stream write timeout of 5 s): the
 * server cuts it once a write to it has blocked that long, counts it in {@code anvil_api_stream_write_timeouts_total},
 * frees its stream and its KV blocks, and goes on serving.
 */
@ExtendWith(AnvilServerExtension.class)
class StuckStreamIT {

    /**
     * A stream of several megabytes of SSE (4 prompts, 8 choices each, 480 tokens with 5 log-probabilities per token;
     * stories260k never stops early): far more than the socket buffers between the server and a client that reads
     * nothing hold, so the server's writes block. Random sampling, so the response cache never answers it.
     */
    static final String LARGE_STREAM =
            "{\"model\":\"" + OpenAi.MODEL + "\",\"prompt\":[\"Once upon a time\",\"The dog\",\"A girl\","
                    + "\"In the park\"],\"n\":8,\"max_tokens\":480,\"logprobs\":5,\"temperature\":1,\"stream\":true}";

    private static double metric(AnvilServer server, String name, String... labels) {
        return PrometheusText.sum(server, name, labels);
    }

    /** Polls {@code value} until it is {@code expected} or the deadline passes; returns the last value seen. */
    private static double until(DoubleSupplier value, double expected, Duration timeout) {
        Instant deadline = Instant.now().plus(timeout);
        double seen = value.getAsDouble();
        while (seen != expected && Instant.now().isBefore(deadline)) {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            seen = value.getAsDouble();
        }
        return seen;
    }

    @Test
    void aClientThatStopsReadingIsCutWithinTheWriteTimeoutCountedAndItsResourcesFreed(AnvilServer server) {
        double cutBefore = metric(server, "anvil_api_stream_write_timeouts_total");
        double openBefore = metric(server, "anvil_api_streams_open");
        Instant sent = Instant.now();
        try (StuckStreamClient stuck = StuckStreamClient.send(server, "/v1/completions", LARGE_STREAM, Map.of())) {
            // The client reads nothing at all; the server must notice its blocked writes by itself.
            double cut = until(
                    () -> metric(server, "anvil_api_stream_write_timeouts_total"),
                    cutBefore + 1,
                    Duration.ofSeconds(180));
            assertEquals(cutBefore + 1, cut, "the stuck stream was not cut (and counted) within 180 s of its request");
            Duration took = Duration.between(sent, Instant.now());

            // What reached the client ends without [DONE], and then the server closed the connection.
            String received = stuck.drainUntilClosed(Duration.ofSeconds(30));
            assertNotNull(received, "the server kept the connection of the cut stream open");
            assertTrue(
                    received.startsWith("HTTP/1.1 200"), () -> received.substring(0, Math.min(300, received.length())));
            assertTrue(received.contains("data: {"), "the stream had started");
            assertFalse(received.contains("data: [DONE]"), "the cut stream did not run to its end");
            assertTrue(took.compareTo(Duration.ofSeconds(180)) < 0, "cut after " + took);
        }

        // Its stream slot and its KV blocks are given back, and the server serves as before.
        assertEquals(
                openBefore,
                until(() -> metric(server, "anvil_api_streams_open"), openBefore, Duration.ofSeconds(30)),
                "the cut stream still counts as open");
        assertEquals(
                0.0,
                until(() -> OpenAi.kvBlocksUsed(server), 0.0, Duration.ofSeconds(30)),
                "the cut generation's KV blocks were not freed");
        HttpResult ready = server.get("/health/ready");
        assertEquals(200, ready.status(), ready::toString);
        OpenAi.Stream normal = OpenAi.stream(
                server,
                "/v1/completions",
                "{\"model\":\"" + OpenAi.MODEL
                        + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"stream\":true}");
        assertEquals(200, normal.status(), normal::toString);
        assertTrue(normal.done(), "a reading client gets its whole stream");
        assertEquals(
                cutBefore + 1,
                metric(server, "anvil_api_stream_write_timeouts_total"),
                "a reading client is never cut");
    }
}
