package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.ServerMetrics;
import jakarta.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Concurrency, cancellation and overload. The IT server runs with a waiting queue of 48 requests
 * ({@code ANVIL_SERVING_MAX_QUEUE}, set by the harness) and a batch of 32 sequences.
 */
@ExtendWith(AnvilServerExtension.class)
class OpenAiLoadIT {

    private final AnvilServer server;

    OpenAiLoadIT(AnvilServer server) {
        this.server = server;
    }

    @AfterEach
    void cacheIsIdleAgain() {
        // Leave no generation running for the next test: every KV block must be free again.
        assertEquals(
                0.0,
                OpenAi.pollUntil(() -> OpenAi.kvBlocksUsed(server), 0.0, Duration.ofSeconds(60)),
                "KV cache blocks still in use after the test");
    }

    @Test
    void thirtyTwoConcurrentStreamsAllComplete() throws Exception {
        int clients = 32, maxTokens = 24;
        List<OpenAi.Stream> streams = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<OpenAi.Stream>> futures = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                String body = i % 2 == 0
                        ? OpenAi.completion(
                                "Once upon a time",
                                maxTokens,
                                "\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}")
                        : OpenAi.chat(
                                "Tell me a story",
                                maxTokens,
                                "\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}");
                String path = i % 2 == 0 ? "/v1/completions" : "/v1/chat/completions";
                futures.add(pool.submit(() -> OpenAi.stream(server, path, body)));
            }
            for (Future<OpenAi.Stream> f : futures) streams.add(f.get());
        }
        String completionText = null, chatText = null;
        for (int i = 0; i < clients; i++) {
            OpenAi.Stream s = streams.get(i);
            assertEquals(200, s.status(), s::toString);
            assertTrue(s.done(), "client " + i + " got no [DONE]: " + s);
            JsonObject usage = s.last().getJsonObject("usage");
            assertEquals(maxTokens, usage.getInt("completion_tokens"), s::toString);
            assertTrue(s.contentChunks() >= 1 && s.contentChunks() <= maxTokens, s::toString);
            // Greedy decoding is batch-invariant: every client with the same prompt gets the same text.
            if (i % 2 == 0) {
                if (completionText == null) completionText = s.text();
                assertEquals(completionText, s.text(), "client " + i);
            } else {
                if (chatText == null) chatText = s.text();
                assertEquals(chatText, s.text(), "client " + i);
            }
        }
    }

    @Test
    void closingTheStreamCancelsTheGenerationAndFreesItsBlocks() throws Exception {
        assertEquals(
                0.0, OpenAi.pollUntil(() -> OpenAi.kvBlocksUsed(server), 0.0, Duration.ofSeconds(60)), "idle before");
        double cancelledBefore = cancelledCount();
        // A raw socket, closed right after the first token: the disconnect is immediate and certain (an HTTP
        // client library may drain or pool the connection), and a 480-token generation is still running then.
        String body = OpenAi.completion("Once upon a time", 480, "\"temperature\":0,\"stream\":true");
        byte[] bodyBytes = body.getBytes(StandardCharsets.UTF_8);
        try (Socket socket =
                new Socket(server.baseUri().getHost(), server.baseUri().getPort())) {
            socket.setSoTimeout(60_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                            + "Accept: text/event-stream\r\nContent-Length: " + bodyBytes.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(bodyBytes);
            out.flush();
            BufferedReader reader =
                    new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            String status = reader.readLine();
            assertTrue(status != null && status.contains(" 200 "), "status line: " + status);
            String line;
            do {
                line = reader.readLine();
            } while (line != null && !line.startsWith("data: {"));
            assertTrue(line != null, "no chunk before the stream ended");
        }
        // The server notices at its next write; the sequence leaves the batch at the next step.
        assertEndedCancelledAndIdle(cancelledBefore);
    }

    @Test
    void aClientThatLeavesBeforeAPlainAnswerCancelsTheGeneration() throws Exception {
        assertEquals(
                0.0, OpenAi.pollUntil(() -> OpenAi.kvBlocksUsed(server), 0.0, Duration.ofSeconds(60)), "idle before");
        double cancelledBefore = cancelledCount();
        // Not streamed: the server writes nothing until the 480 tokens are done, so only its probe of the
        // connection can notice that the client closed it (HTTP/1.1 on a raw socket, closed right after sending).
        byte[] body =
                OpenAi.completion("Once upon a time", 480, "\"temperature\":0").getBytes(StandardCharsets.UTF_8);
        try (Socket socket =
                new Socket(server.baseUri().getHost(), server.baseUri().getPort())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                            + "Content-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
        }
        assertEndedCancelledAndIdle(cancelledBefore);
    }

    @Test
    void aPlainAnswerStillReachesAKeepAliveClientThatSendsItsNextRequestEarly() throws Exception {
        // HTTP/1.1 pipelining: the second request is on the wire while the first is generated. The connection
        // probe reads those bytes and must hand them back to the server, so both answers arrive, in order.
        byte[] first =
                OpenAi.completion("Once upon a time", 64, "\"temperature\":0").getBytes(StandardCharsets.UTF_8);
        byte[] second =
                OpenAi.completion("The little dog", 8, "\"temperature\":0").getBytes(StandardCharsets.UTF_8);
        try (Socket socket =
                new Socket(server.baseUri().getHost(), server.baseUri().getPort())) {
            socket.setSoTimeout(60_000);
            OutputStream out = socket.getOutputStream();
            for (byte[] body : List.of(first, second)) {
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                                + "Content-Length: " + body.length + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(body);
            }
            out.flush();
            InputStream in = socket.getInputStream();
            for (int expectedTokens : new int[] {64, 8}) {
                String response = readHttpResponse(in);
                assertTrue(response.startsWith("HTTP/1.1 200 "), response);
                assertTrue(response.contains("\"completion_tokens\":" + expectedTokens), response);
            }
        }
    }

    /** One HTTP/1.1 response with a Content-Length body, read byte by byte so the next response stays unread. */
    private static String readHttpResponse(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) throw new IOException("connection closed inside a response head: " + head);
            head.append((char) b);
        }
        Matcher length = Pattern.compile("(?im)^content-length: *([0-9]+)").matcher(head);
        assertTrue(length.find(), "no Content-Length in " + head);
        byte[] body = in.readNBytes(Integer.parseInt(length.group(1)));
        return head + new String(body, StandardCharsets.UTF_8);
    }

    @Test
    void aFullQueueAnswers503WithRetryAfter() throws Exception {
        int requests = 160;
        List<HttpResponse<InputStream>> responses = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<HttpResponse<InputStream>>> futures = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                String body = OpenAi.completion("Once upon a time", 480, "\"seed\":" + i + ",\"stream\":true");
                futures.add(pool.submit(() -> OpenAi.open(server, "/v1/completions", body)));
            }
            for (Future<HttpResponse<InputStream>> f : futures) responses.add(f.get());
        }
        int accepted = 0, overloaded = 0;
        String firstRejection = null;
        for (HttpResponse<InputStream> r : responses) {
            try (InputStream in = r.body()) {
                if (r.statusCode() == 200) {
                    accepted++;
                    continue; // closing the stream cancels the generation
                }
                String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                assertEquals(503, r.statusCode(), body);
                overloaded++;
                long retryAfter = Long.parseLong(r.headers()
                        .firstValue("Retry-After")
                        .orElseThrow(() -> new AssertionError("503 without Retry-After: " + body)));
                assertTrue(retryAfter >= 1, "Retry-After " + retryAfter);
                JsonObject error = OpenAi.json(body).getJsonObject("error");
                assertEquals("server_overloaded", error.getString("code"), body);
                if (firstRejection == null) firstRejection = body;
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }
        assertTrue(
                overloaded > 0,
                "160 simultaneous long requests must overflow a queue of 48 (accepted " + accepted + ")");
        assertTrue(accepted >= 48, "at least the queue's worth of requests is accepted, got " + accepted);
    }

    private double cancelledCount() {
        return ServerMetrics.firstOrZero(
                server, "anvil_inference_requests_total", "model=\"stories260k\"", "outcome=\"cancelled\"");
    }

    /** The request that lost its client ended as cancelled (not run to its 480 tokens) and gave its KV blocks back. */
    private void assertEndedCancelledAndIdle(double cancelledBefore) {
        assertEquals(
                cancelledBefore + 1,
                OpenAi.pollUntil(this::cancelledCount, cancelledBefore + 1, Duration.ofSeconds(20)),
                "the request must end as cancelled, not run to its 480 tokens");
        assertEquals(
                0.0,
                OpenAi.pollUntil(() -> OpenAi.kvBlocksUsed(server), 0.0, Duration.ofSeconds(20)),
                "KV blocks must return to idle once the client disconnected");
    }
}
