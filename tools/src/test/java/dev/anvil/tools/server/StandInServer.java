package dev.anvil.tools.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.function.Function;

/**
 * A stand-in for an Anvil server in the benchmark commands' tests: answers routes ({@code "POST /api/..."}, the
 * path without the query) with handlers of the recorded request, and records every request.
 */
final class StandInServer implements AutoCloseable {

    /** One request as it arrived. */
    record Request(String method, String path, String query, Map<String, List<String>> headers, String body) {
        String header(String name) {
            List<String> values = headers.get(name);
            return values == null ? null : values.getFirst();
        }
    }

    /** One answer; {@code contentType} application/json unless given. */
    record Answer(int status, String contentType, String body) {
        static Answer json(int status, String body) {
            return new Answer(status, "application/json", body);
        }
    }

    private final HttpServer server;
    private final Map<String, Function<Request, Answer>> routes = new ConcurrentHashMap<>();
    final ConcurrentLinkedQueue<Request> requests = new ConcurrentLinkedQueue<>();

    StandInServer() {
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", this::handle);
        server.start();
    }

    /** Answers {@code method path} with {@code handler}. */
    StandInServer route(String methodAndPath, Function<Request, Answer> handler) {
        routes.put(methodAndPath, handler);
        return this;
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** The recorded requests of {@code method path}. */
    List<Request> requests(String methodAndPath) {
        return requests.stream()
                .filter(r -> (r.method() + " " + r.path()).equals(methodAndPath))
                .toList();
    }

    private void handle(HttpExchange ex) throws IOException {
        Request request = new Request(
                ex.getRequestMethod(),
                ex.getRequestURI().getPath(),
                ex.getRequestURI().getRawQuery(),
                Map.copyOf(ex.getRequestHeaders()),
                new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
        requests.add(request);
        Function<Request, Answer> handler = routes.get(request.method() + " " + request.path());
        Answer answer =
                handler == null ? Answer.json(404, "{\"error\":{\"message\":\"no route\"}}") : handler.apply(request);
        byte[] body = answer.body().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", answer.contentType());
        ex.sendResponseHeaders(answer.status(), body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
