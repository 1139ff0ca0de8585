package dev.anvil.api.batch;

import dev.anvil.api.gateway.BatchLineCredential;
import dev.anvil.api.openai.OpenAiConfig;
import dev.anvil.batch.BatchConfig;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.StringReader;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import javax.management.JMException;
import javax.management.ObjectName;

/**
 * Runs one batch line through the serving pipeline a live request takes, by sending it to this server's own
 * endpoint on the loopback interface: the gateway (the batch's key: scope, limits, budget, usage and audit rows),
 * routing and experiments, guardrails, the response cache, fallbacks and the answer's shape are exactly a live
 * request's, with nothing duplicated. The request carries the server's {@link BatchLineCredential}, so the gateway
 * admits it as the key that created the batch and the scheduler runs it at LOW priority (live traffic keeps its
 * latency). A line refused for load (429, 503) waits for {@code Retry-After} and is tried again, up to
 * {@code anvil.batch.line-retries} times.
 */
@ApplicationScoped
public class BatchLineRunner {

    /** What a line got: the HTTP status and body (a JSON value), and the request id its answer names. */
    public record Answer(int status, JsonValue body, String requestId) {}

    /** The server stops or undeploys: the line was not run, and runs again when the batch resumes. */
    public static final class Interrupted extends RuntimeException {
        Interrupted(String message) {
            super(message);
        }
    }

    private static final long MAX_RETRY_WAIT_SECONDS = 60;

    @Inject
    BatchLineCredential credential;

    @Inject
    BatchConfig config;

    @Inject
    OpenAiConfig api;

    private final HttpClient client = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(10))
            .version(HttpClient.Version.HTTP_1_1)
            .build();

    private volatile boolean stopping;
    private volatile URI base;

    @PreDestroy
    void stop() {
        stopping = true;
        client.shutdownNow();
    }

    public boolean stopping() {
        return stopping;
    }

    /** Sends {@code body} (a request of {@code endpoint}) as a line of batch {@code batchId}. */
    public Answer run(
            String batchId, String endpoint, JsonObject body, java.util.function.BooleanSupplier jobStopping) {
        HttpRequest request = HttpRequest.newBuilder(base().resolve(endpoint))
                .timeout(Duration.ofSeconds(api.requestTimeoutSeconds() + 60))
                .header("Content-Type", "application/json")
                .header(BatchLineCredential.TOKEN_HEADER, credential.token())
                .header(BatchLineCredential.BATCH_HEADER, batchId)
                .POST(HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8))
                .build();
        int attempts = 0;
        while (true) {
            if (stopping || jobStopping.getAsBoolean()) throw new Interrupted("the job is stopping");
            HttpResponse<String> response;
            try {
                response = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            } catch (IOException e) {
                if (stopping || jobStopping.getAsBoolean()) throw new Interrupted("the job is stopping");
                if (attempts++ >= config.lineRetries()) throw new IllegalStateException(e);
                pause(1);
                continue;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Interrupted("interrupted");
            }
            int status = response.statusCode();
            if ((status == 429 || status == 503) && attempts++ < config.lineRetries()) {
                pause(retryAfter(response));
                continue;
            }
            JsonValue parsed = parse(response.body());
            String requestId = parsed instanceof JsonObject o && o.get("id") instanceof jakarta.json.JsonString id
                    ? id.getString()
                    : response.headers()
                            .firstValue("X-Anvil-Trace-Id")
                            .orElse(dev.anvil.batch.BatchStore.newId("req_"));
            return new Answer(status, parsed, requestId);
        }
    }

    private static long retryAfter(HttpResponse<?> response) {
        try {
            long seconds = Long.parseLong(
                    response.headers().firstValue("Retry-After").orElse("1").trim());
            return Math.max(1, Math.min(MAX_RETRY_WAIT_SECONDS, seconds));
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    private void pause(long seconds) {
        long until = System.nanoTime() + seconds * 1_000_000_000L;
        try {
            while (!stopping && System.nanoTime() < until) Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Interrupted("interrupted");
        }
    }

    private static JsonValue parse(String text) {
        try (var reader = Json.createReader(new StringReader(text))) {
            return reader.readValue();
        } catch (RuntimeException e) {
            return Json.createValue(text);
        }
    }

    /**
     * The API's own address: the {@code http} socket binding's bound port, on loopback when it listens on every
     * address (read once the server runs, from its management model).
     */
    private URI base() {
        URI known = base;
        if (known != null) return known;
        try {
            var server = ManagementFactory.getPlatformMBeanServer();
            ObjectName binding = new ObjectName("jboss.as:socket-binding-group=standard-sockets,socket-binding=http");
            Object port = server.getAttribute(binding, "boundPort");
            Object address = server.getAttribute(binding, "boundAddress");
            if (!(port instanceof Integer p)) throw new IllegalStateException("the http listener is not bound yet");
            InetAddress bound = InetAddress.getByName(address == null ? "127.0.0.1" : address.toString());
            InetAddress target = bound.isAnyLocalAddress() ? InetAddress.getLoopbackAddress() : bound;
            String host = target.getHostAddress().contains(":")
                    ? "[" + target.getHostAddress() + "]"
                    : target.getHostAddress();
            known = URI.create("http://" + host + ":" + p + "/");
            base = known;
            return known;
        } catch (JMException | IOException e) {
            throw new IllegalStateException("cannot read the http listener's address", e);
        }
    }

    /** Whether the server has finished booting (its own endpoint can be called). */
    static boolean serverRunning() {
        try {
            return "running"
                    .equals(ManagementFactory.getPlatformMBeanServer()
                            .getAttribute(new ObjectName("jboss.as:management-root=server"), "serverState"));
        } catch (JMException | RuntimeException e) {
            return false;
        }
    }
}
