package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Fallbacks and circuit breakers on the real server. AnvilServer injects faults: guardprimary@1.0.0 refuses every
 * request, guardslow@1.0.0 holds each one 8 s (the submission timeout is 3 s); both fall back to guardsmall@1.0.0.
 * Breakers open after 4 outcomes with at least half failed, and stay open for the rest of the run. guardbusy@1.0.0 has
 * no fault: it is overloaded for real (its waiting queue holds 48, as every version's on the IT server) and falls
 * back to guardsmall@1.0.0, then to a fixed message.
 */
@ExtendWith(AnvilServerExtension.class)
class ResilienceIT {

    /** Every request pins a version that is not PRODUCTION: sent with an admin's credentials, who may pin any version. */
    private static final Map<String, String> JSON =
            Map.of("Content-Type", "application/json", "Authorization", AnvilServer.basicAuth(AnvilServer.ADMIN_USER));

    private static String body(String model, String extra) {
        return "{\"model\":\"" + model + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":12,\"temperature\":0"
                + extra + "}";
    }

    private static String text(HttpResult r) {
        return r.json().getJsonArray("choices").getJsonObject(0).getString("text");
    }

    @Test
    void aFailingVersionFallsBackAndItsBreakerOpens(AnvilServer server) {
        GuardedModels.register(server, "guardprimary", "1.0.0");
        GuardedModels.register(server, "guardsmall", "1.0.0");
        HttpResult direct = server.request("POST", "/v1/completions", body("guardsmall@1.0.0", ""), JSON);
        assertEquals(200, direct.status(), direct::toString);

        for (int i = 0; i < 4; i++) {
            HttpResult r = server.request("POST", "/v1/completions", body("guardprimary@1.0.0", ""), JSON);
            assertEquals(200, r.status(), r::toString);
            assertEquals(
                    "guardsmall@1.0.0", r.json().getString("model"), "the model field names the model that answered");
            assertEquals(
                    "guardsmall@1.0.0; from=guardprimary@1.0.0; reason=unavailable",
                    r.headers().firstValue("X-Anvil-Fallback").orElse(""),
                    r::toString);
            assertEquals(text(direct), text(r), "the fallback model generated the answer");
        }
        assertEquals(
                1.0,
                GuardedModels.metric(
                        server, "anvil_resilience_breaker_state", "model=\"guardprimary\"", "version=\"1.0.0\""),
                "4 failures of 4: the breaker is open");
        assertEquals(1.0, GuardedModels.metric(server, "anvil_resilience_breaker_opened", "model=\"guardprimary\""));

        HttpResult open = server.request("POST", "/v1/completions", body("guardprimary@1.0.0", ""), JSON);
        assertEquals(200, open.status(), open::toString);
        assertEquals(
                "guardsmall@1.0.0; from=guardprimary@1.0.0; reason=circuit_open",
                open.headers().firstValue("X-Anvil-Fallback").orElse(""));
        assertEquals(text(direct), text(open));

        OpenAi.Stream stream =
                OpenAi.stream(server, "/v1/completions", body("guardprimary@1.0.0", ",\"stream\":true"), JSON);
        assertEquals(200, stream.status(), stream::toString);
        assertEquals(
                "guardsmall@1.0.0; from=guardprimary@1.0.0; reason=circuit_open",
                stream.headers().firstValue("X-Anvil-Fallback").orElse(""));
        assertEquals("guardsmall@1.0.0", stream.events().getFirst().getString("model"));
        assertEquals(text(direct), stream.text());

        assertTrue(GuardedModels.metric(
                        server,
                        "anvil_resilience_fallbacks_total",
                        "model=\"guardprimary\"",
                        "reason=\"circuit_open\"",
                        "target=\"guardsmall@1.0.0\"")
                >= 2);
        assertEquals(
                4.0,
                GuardedModels.metric(
                        server,
                        "anvil_resilience_fallbacks_total",
                        "model=\"guardprimary\"",
                        "reason=\"unavailable\""));
    }

    @Test
    void aVersionTooSlowToAcceptFallsBackAtTheTimeout(AnvilServer server) {
        GuardedModels.register(server, "guardslow", "1.0.0");
        GuardedModels.register(server, "guardsmall", "1.0.0");
        HttpResult r = server.request("POST", "/v1/completions", body("guardslow@1.0.0", ""), JSON);
        assertEquals(200, r.status(), r::toString);
        assertEquals("guardsmall@1.0.0", r.json().getString("model"));
        assertEquals(
                "guardsmall@1.0.0; from=guardslow@1.0.0; reason=timeout",
                r.headers().firstValue("X-Anvil-Fallback").orElse(""));
    }

    @Test
    void anOverloadedVersionFallsBackInsteadOf503AndKeepsItsBreakerClosed(AnvilServer server) throws Exception {
        GuardedModels.register(server, "guardbusy", "1.0.0");
        GuardedModels.register(server, "guardsmall", "1.0.0");
        // Both versions loaded (on demand, for name@version) before the burst.
        for (String ref : List.of("guardbusy@1.0.0", "guardsmall@1.0.0")) {
            HttpResult warm = server.request("POST", "/v1/completions", body(ref, ""), JSON);
            assertEquals(200, warm.status(), warm::toString);
            assertEquals(ref, warm.json().getString("model"));
            assertTrue(warm.headers().firstValue("X-Anvil-Fallback").isEmpty(), warm::toString);
        }
        double toModelBefore = fallbacks(server, "guardbusy", "overloaded", "target=\"guardsmall@1.0.0\"");
        double toMessageBefore = fallbacks(server, "guardbusy", "overloaded", "target=\"message\"");

        // 160 simultaneous long streams against one version whose batch takes 32 and whose queue holds 48: without a
        // fallback the overflow is answered 503 + Retry-After (OpenAiLoadIT); here guardsmall@1.0.0 takes what it can
        // and the fixed message answers the rest, so every request is answered 200.
        int requests = 160;
        List<HttpResponse<InputStream>> responses = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<HttpResponse<InputStream>>> futures = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                String request = "{\"model\":\"guardbusy@1.0.0\",\"prompt\":\"Once upon a time\",\"max_tokens\":480,"
                        + "\"seed\":" + i + ",\"stream\":true}";
                futures.add(pool.submit(() -> OpenAi.open(
                        server,
                        "/v1/completions",
                        request,
                        Map.of(
                                "Cache-Control",
                                "no-store",
                                "Authorization",
                                AnvilServer.basicAuth(AnvilServer.ADMIN_USER)))));
            }
            for (Future<HttpResponse<InputStream>> f : futures) responses.add(f.get());
        }
        int servedByPrimary = 0, byFallbackModel = 0, byMessage = 0;
        for (HttpResponse<InputStream> r : responses) {
            try (InputStream in = r.body()) { // closing a stream cancels its generation
                String fallback = r.headers().firstValue("X-Anvil-Fallback").orElse("");
                if (r.statusCode() != 200) {
                    throw new AssertionError("an overloaded version with fallbacks must not answer " + r.statusCode()
                            + ": " + new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
                }
                if (fallback.isEmpty()) {
                    servedByPrimary++;
                } else if (fallback.equals("guardsmall@1.0.0; from=guardbusy@1.0.0; reason=overloaded")) {
                    byFallbackModel++;
                } else if (fallback.equals("message; from=guardbusy@1.0.0; reason=overloaded")) {
                    byMessage++;
                } else {
                    throw new AssertionError("unexpected fallback for a full queue: " + fallback);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        String counts = "primary " + servedByPrimary + ", fallback model " + byFallbackModel + ", message " + byMessage;
        assertTrue(
                byFallbackModel + byMessage > 0,
                "160 simultaneous long requests must overflow a queue of 48: " + counts);
        assertTrue(servedByPrimary >= 48, "at least the queue's worth of requests is taken by the primary: " + counts);
        // Each fallback is counted before its answer starts, so the counters are final once every response came.
        assertEquals(
                toModelBefore + byFallbackModel,
                fallbacks(server, "guardbusy", "overloaded", "target=\"guardsmall@1.0.0\""),
                "every answer of the fallback model is counted in /metrics: " + counts);
        assertEquals(
                toMessageBefore + byMessage,
                fallbacks(server, "guardbusy", "overloaded", "target=\"message\""),
                "every fixed-message answer is counted in /metrics: " + counts);
        assertEquals(
                0.0,
                GuardedModels.metric(
                        server, "anvil_resilience_breaker_state", "model=\"guardbusy\"", "version=\"1.0.0\""),
                "a full queue is load, not failure: the breaker stays closed (" + counts + ")");

        // Leave nothing running for the next test: the cancelled streams free their KV blocks.
        for (String model : List.of("guardbusy", "guardsmall")) {
            double used = OpenAi.pollUntil(
                    () -> GuardedModels.metric(server, "anvil_inference_kv_blocks_used", "model=\"" + model + "\""),
                    0.0,
                    Duration.ofSeconds(60));
            assertEquals(0.0, used, "KV cache blocks of " + model + " still in use after the burst");
        }
    }

    /** anvil_resilience_fallbacks_total of {@code model}, {@code reason} and {@code target} (0 before the first one). */
    private static double fallbacks(AnvilServer server, String model, String reason, String target) {
        return GuardedModels.metric(
                server,
                "anvil_resilience_fallbacks_total",
                "model=\"" + model + "\"",
                "reason=\"" + reason + "\"",
                target);
    }
}
