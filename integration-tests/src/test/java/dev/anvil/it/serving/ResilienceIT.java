package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Fallbacks and circuit breakers on the real server. AnvilServer injects faults: guardprimary@1.0.0 refuses every
 * request, guardslow@1.0.0 holds each one 8 s (the submission timeout is 3 s); both fall back to guardsmall@1.0.0.
 * Breakers open after 4 outcomes with at least half failed, and stay open for the rest of the run.
 */
@ExtendWith(AnvilServerExtension.class)
class ResilienceIT {

    private static final Map<String, String> JSON = Map.of("Content-Type", "application/json");

    private static String body(String model, String extra) {
        return "{\"model\":\"" + model + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":12,\"temperature\":0" + extra + "}";
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
            assertEquals("guardsmall@1.0.0", r.json().getString("model"), "the model field names the model that answered");
            assertEquals("guardsmall@1.0.0; from=guardprimary@1.0.0; reason=unavailable",
                    r.headers().firstValue("X-Anvil-Fallback").orElse(""), r::toString);
            assertEquals(text(direct), text(r), "the fallback model generated the answer");
        }
        assertEquals(1.0, GuardedModels.metric(server, "anvil_resilience_breaker_state", "model=\"guardprimary\"", "version=\"1.0.0\""),
                "4 failures of 4: the breaker is open");
        assertEquals(1.0, GuardedModels.metric(server, "anvil_resilience_breaker_opened", "model=\"guardprimary\""));

        HttpResult open = server.request("POST", "/v1/completions", body("guardprimary@1.0.0", ""), JSON);
        assertEquals(200, open.status(), open::toString);
        assertEquals("guardsmall@1.0.0; from=guardprimary@1.0.0; reason=circuit_open",
                open.headers().firstValue("X-Anvil-Fallback").orElse(""));
        assertEquals(text(direct), text(open));

        OpenAi.Stream stream = OpenAi.stream(server, "/v1/completions", body("guardprimary@1.0.0", ",\"stream\":true"));
        assertEquals(200, stream.status(), stream::toString);
        assertEquals("guardsmall@1.0.0; from=guardprimary@1.0.0; reason=circuit_open",
                stream.headers().firstValue("X-Anvil-Fallback").orElse(""));
        assertEquals("guardsmall@1.0.0", stream.events().getFirst().getString("model"));
        assertEquals(text(direct), stream.text());

        assertTrue(GuardedModels.metric(server, "anvil_resilience_fallbacks_total", "model=\"guardprimary\"",
                "reason=\"circuit_open\"", "target=\"guardsmall@1.0.0\"") >= 2);
        assertEquals(4.0, GuardedModels.metric(server, "anvil_resilience_fallbacks_total", "model=\"guardprimary\"",
                "reason=\"unavailable\""));
    }

    @Test
    void aVersionTooSlowToAcceptFallsBackAtTheTimeout(AnvilServer server) {
        GuardedModels.register(server, "guardslow", "1.0.0");
        GuardedModels.register(server, "guardsmall", "1.0.0");
        HttpResult r = server.request("POST", "/v1/completions", body("guardslow@1.0.0", ""), JSON);
        assertEquals(200, r.status(), r::toString);
        assertEquals("guardsmall@1.0.0", r.json().getString("model"));
        assertEquals("guardsmall@1.0.0; from=guardslow@1.0.0; reason=timeout", r.headers().firstValue("X-Anvil-Fallback").orElse(""));
    }
}
