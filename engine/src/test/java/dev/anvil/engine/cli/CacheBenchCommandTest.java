package dev.anvil.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The cache benchmark against a stand-in server whose first answer is a miss and later ones are hits. */
class CacheBenchCommandTest {

    private static HttpServer server(AtomicInteger requests, ConcurrentLinkedQueue<String> bodies, boolean everHits)
            throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v1/completions", ex -> {
            bodies.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            int n = requests.incrementAndGet();
            String status = everHits && n > 1 ? "hit" : "miss";
            ex.getResponseHeaders().add("X-Anvil-Cache", status);
            // Server times 0.100, 0.101, ... ms: the percentiles are known.
            ex.getResponseHeaders()
                    .add(
                            "Server-Timing",
                            String.format(
                                    java.util.Locale.ROOT,
                                    "app;desc=\"cache %s\";dur=%.3f, cpu;dur=%.3f, cache;desc=\"stage\";dur=0.020",
                                    status,
                                    0.1 + (n % 100) / 1000.0,
                                    0.05));
            byte[] body = "{\"choices\":[{\"text\":\" there\"}]}".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        return server;
    }

    @Test
    void fillsTheCacheThenTimesIdenticalHits() throws Exception {
        AtomicInteger requests = new AtomicInteger();
        ConcurrentLinkedQueue<String> bodies = new ConcurrentLinkedQueue<>();
        HttpServer server = server(requests, bodies, true);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int status = CacheBenchCommand.run(
                    new String[] {
                        "--url",
                        "http://127.0.0.1:" + server.getAddress().getPort(),
                        "--model",
                        "tiny",
                        "--requests",
                        "300",
                        "--max-tokens",
                        "8",
                        "--json"
                    },
                    new PrintStream(out, true, StandardCharsets.UTF_8),
                    System.err);
            assertEquals(0, status);
            Object report = JsonReader.parse(out.toString(StandardCharsets.UTF_8));
            assertEquals(300.0, JsonReader.path(report, "requests"));
            assertEquals(0.0, JsonReader.path(report, "not_hits"));
            double p50 = (Double) JsonReader.path(report, "server_ms_p50");
            double p99 = (Double) JsonReader.path(report, "server_ms_p99");
            assertTrue(p50 >= 0.1 && p50 <= p99 && p99 <= 0.2, out.toString(StandardCharsets.UTF_8));
            assertEquals(
                    0.05,
                    (Double) JsonReader.path(report, "server_cpu_ms_p50"),
                    1e-9,
                    "the cpu entry is read apart from app's");
            assertEquals(0.02, (Double) JsonReader.path(report, "cache_stage_ms_p50"), 1e-9);
            // 1 fill + 2 (the second is the first hit) + 200 warm-up + 300 measured, all the same deterministic body.
            assertEquals(1 + 1 + 200 + 300, requests.get());
            assertEquals(1, bodies.stream().distinct().count());
            assertTrue(bodies.peek().contains("\"temperature\":0"), bodies.peek());
        } finally {
            server.stop(0);
        }
    }

    @Test
    void failsWhenTheServerNeverAnswersFromTheCache() throws Exception {
        AtomicInteger requests = new AtomicInteger();
        HttpServer server = server(requests, new ConcurrentLinkedQueue<>(), false);
        try {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status = CacheBenchCommand.run(
                    new String[] {
                        "--url",
                        "http://127.0.0.1:" + server.getAddress().getPort(),
                        "--model",
                        "tiny",
                        "--requests",
                        "5",
                        "--fill-wait",
                        "1"
                    },
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                    new PrintStream(err, true, StandardCharsets.UTF_8));
            assertEquals(1, status);
            assertTrue(
                    err.toString(StandardCharsets.UTF_8).contains("X-Anvil-Cache: miss"),
                    err.toString(StandardCharsets.UTF_8));
            assertTrue(requests.get() >= 2, "it retried until the wait ran out");
        } finally {
            server.stop(0);
        }
    }
}
