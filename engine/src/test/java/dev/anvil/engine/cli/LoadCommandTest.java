package dev.anvil.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The load generator against a stand-in server that streams a fixed number of chunks per request. */
class LoadCommandTest {

    @Test
    void jsonReaderParsesNestedValuesAndEscapes() {
        Object v = JsonReader.parse(" {\"a\":[1,2.5e1,{\"b\":\"x\\ny\\u00e9\\\"\"}],\"t\":true,\"n\":null} ");
        assertEquals(25.0, JsonReader.path(v, "a", 1));
        assertEquals("x\nyé\"", JsonReader.path(v, "a", 2, "b"));
        assertEquals(Boolean.TRUE, JsonReader.path(v, "t"));
        assertEquals(null, JsonReader.path(v, "a", 9));
        assertTrue(((Map<?, ?>) v).containsKey("n"));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> JsonReader.parse("{\"a\":1,}"));
        assertTrue(e.getMessage().contains("offset 7"), e.getMessage());
    }

    @Test
    void promptsDifferPerRequestAndHaveTheAskedWordCount() {
        assertEquals(40, LoadCommand.prompt(3, 40).split(" ").length);
        assertNotEquals(LoadCommand.prompt(1, 40), LoadCommand.prompt(2, 40));
        assertEquals(LoadCommand.prompt(7, 12), LoadCommand.prompt(7, 12));
        assertEquals(40, LoadCommand.promptTokens("~40"));
    }

    @Test
    void percentileIsNearestRank() {
        double[] v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        assertEquals(5, LoadCommand.percentile(v, 50));
        assertEquals(10, LoadCommand.percentile(v, 99));
        assertEquals(1, LoadCommand.percentile(v, 1));
    }

    @Test
    void drivesConcurrentStreamingClientsAndCountsUsage() throws Exception {
        AtomicInteger completions = new AtomicInteger();
        ConcurrentLinkedQueue<String> bodies = new ConcurrentLinkedQueue<>();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/v1/models", ex -> {
            byte[] body = "{\"object\":\"list\",\"data\":[{\"id\":\"tiny\",\"object\":\"model\"}]}"
                    .getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.createContext("/v1/completions", ex -> {
            bodies.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            completions.incrementAndGet();
            ex.getResponseHeaders().add("Content-Type", "text/event-stream");
            ex.sendResponseHeaders(200, 0);
            try (OutputStream out = ex.getResponseBody()) {
                for (int i = 0; i < 5; i++) {
                    out.write(("data: {\"choices\":[{\"index\":0,\"text\":\"w" + i + "\"}]}\n\n")
                            .getBytes(StandardCharsets.UTF_8));
                    out.flush();
                }
                out.write(
                        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":5,\"total_tokens\":25}}\n\n"
                                .getBytes(StandardCharsets.UTF_8));
                out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            }
        });
        server.start();
        try {
            ByteArrayOutputStream captured = new ByteArrayOutputStream();
            PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8);
            int status = LoadCommand.run(
                    new String[] {
                        "--url",
                        "http://127.0.0.1:" + server.getAddress().getPort(),
                        "--clients",
                        "3",
                        "--requests",
                        "9",
                        "--max-tokens",
                        "5",
                        "--prompt-tokens",
                        "~20",
                        "--json"
                    },
                    out,
                    System.err);
            assertEquals(0, status);
            Object report =
                    JsonReader.parse(captured.toString(StandardCharsets.UTF_8).trim());
            assertEquals("tiny", JsonReader.path(report, "model"));
            assertEquals(9.0, JsonReader.path(report, "requests"));
            assertEquals(0.0, JsonReader.path(report, "failed"));
            assertEquals(5.0, JsonReader.path(report, "mean_completion_tokens"));
            assertEquals(20.0, JsonReader.path(report, "mean_prompt_tokens"));
            assertTrue((Double) JsonReader.path(report, "output_tokens_per_second") > 0);
            assertEquals(10, completions.get(), "one warm-up request plus nine measured ones");
            Object first = JsonReader.parse(bodies.peek());
            assertEquals(Boolean.TRUE, JsonReader.path(first, "stream"));
            assertEquals(Boolean.TRUE, JsonReader.path(first, "stream_options", "include_usage"));
            assertEquals("tiny", JsonReader.path(first, "model"));
            // The stand-in reports 20 prompt tokens for 20 words, so calibration keeps 20 words.
            List<String> last = List.copyOf(bodies);
            assertEquals(20, ((String) JsonReader.path(JsonReader.parse(last.getLast()), "prompt")).split(" ").length);
        } finally {
            server.stop(0);
        }
    }

    @Test
    void failedRequestsMakeTheCommandFail() throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v1/completions", ex -> {
            byte[] body = "{\"error\":{\"message\":\"no such model\"}}".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(404, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        try {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status = LoadCommand.run(
                    new String[] {
                        "--url",
                        "http://127.0.0.1:" + server.getAddress().getPort(),
                        "--model",
                        "nope",
                        "--requests",
                        "1"
                    },
                    new PrintStream(new ByteArrayOutputStream()),
                    new PrintStream(err, true, StandardCharsets.UTF_8));
            assertEquals(1, status);
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("HTTP 404"), err.toString(StandardCharsets.UTF_8));
        } finally {
            server.stop(0);
        }
    }
}
