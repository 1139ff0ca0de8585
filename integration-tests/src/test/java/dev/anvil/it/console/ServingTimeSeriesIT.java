package dev.anvil.it.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code GET /api/serving/versions}, the live serving state and time series the admin console's overview draws, and
 * the 401 a script gets: without the Basic challenge that would open the browser's own login dialog.
 */
@ExtendWith(AnvilServerExtension.class)
class ServingTimeSeriesIT {

    private static final String PATH = "/api/serving/versions";

    @Test
    void theDefaultVersionIsListedWithSamplesThatCountItsTraffic(AnvilServer server) {
        HttpResult first = Eventually.until(
                () -> server.get(PATH),
                r -> r.status() == 200 && version(r, "stories260k") != null,
                Duration.ofSeconds(30));
        JsonObject overview = first.json();
        assertTrue(overview.getInt("intervalSeconds") >= 1, first::toString);
        assertTrue(overview.getInt("windowSeconds") >= overview.getInt("intervalSeconds"), first::toString);
        JsonObject v = version(first, "stories260k");
        assertEquals("PRODUCTION", v.getString("stage"), first::toString);
        assertEquals("SERVING", v.getString("state"), first::toString);
        assertTrue(v.getBoolean("serving"), first::toString);
        assertTrue(v.getJsonNumber("kvBlocksTotal").longValue() > 0, first::toString);
        assertEquals("CLOSED", v.getJsonObject("latest").getString("breaker"), first::toString);
        long before = v.getJsonObject("latest").getJsonNumber("at").longValue();

        for (int i = 0; i < 4; i++) {
            HttpResult r = server.post(
                    "/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"max_tokens\":24}");
            assertEquals(200, r.status(), r::toString);
        }
        // A later sample covers those requests: tokens per second, requests and a TTFT measured.
        HttpResult later = Eventually.until(
                () -> server.get(PATH + "?since=" + before),
                r -> r.status() == 200
                        && version(r, "stories260k").getJsonArray("samples").stream()
                                .map(JsonValue::asJsonObject)
                                .anyMatch(s -> s.getJsonNumber("tokensPerSecond")
                                                        .doubleValue()
                                                > 0
                                        && s.getJsonNumber("requestsPerSecond").doubleValue() > 0
                                        && s.get("ttftP50Ms").getValueType() == JsonValue.ValueType.NUMBER),
                Duration.ofSeconds(30));
        for (JsonValue s : version(later, "stories260k").getJsonArray("samples")) {
            assertTrue(s.asJsonObject().getJsonNumber("at").longValue() > before, "since filters: " + later);
        }
    }

    @Test
    void sinceMustBeANumber(AnvilServer server) {
        HttpResult r = server.get(PATH + "?since=yesterday");
        assertEquals(400, r.status(), r::toString);
        assertEquals("since", r.json().getJsonObject("error").getString("param"), r::toString);
    }

    @Test
    void theEndpointIsForAdminsOnly(AnvilServer server) {
        HttpResult anonymous = server.request("GET", PATH, null, Map.of("Authorization", AnvilServer.ANONYMOUS));
        assertEquals(401, anonymous.status(), anonymous::toString);
        HttpResult viewer = server.request(
                "GET", PATH, null, Map.of("Authorization", AnvilServer.basicAuth(AnvilServer.USER_WITHOUT_ROLE)));
        assertEquals(403, viewer.status(), viewer::toString);
    }

    @Test
    void aScriptsUnauthorizedAnswerCarriesNoBasicChallenge(AnvilServer server) {
        // No credentials: the resource's own 401.
        HttpResult plain = server.request("GET", PATH, null, Map.of("Authorization", AnvilServer.ANONYMOUS));
        assertTrue(plain.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Basic"), plain::toString);
        HttpResult scripted = server.request(
                "GET",
                PATH,
                null,
                Map.of("Authorization", AnvilServer.ANONYMOUS, "X-Requested-With", "XMLHttpRequest"));
        assertEquals(401, scripted.status(), scripted::toString);
        assertFalse(scripted.headers().firstValue("WWW-Authenticate").isPresent(), scripted::toString);

        // Wrong password: the security domain's 401 (the container's error page answers it).
        String wrong = "Basic " + java.util.Base64.getEncoder().encodeToString("it-admin:wrong".getBytes());
        HttpResult rejected = server.request("GET", PATH, null, Map.of("Authorization", wrong));
        assertEquals(401, rejected.status(), rejected::toString);
        assertTrue(rejected.headers().firstValue("WWW-Authenticate").isPresent(), rejected::toString);
        HttpResult rejectedScript =
                server.request("GET", PATH, null, Map.of("Authorization", wrong, "X-Requested-With", "XMLHttpRequest"));
        assertEquals(401, rejectedScript.status(), rejectedScript::toString);
        assertEquals(
                "invalid_credentials",
                rejectedScript.json().getJsonObject("error").getString("code"),
                rejectedScript::toString);
        assertFalse(rejectedScript.headers().firstValue("WWW-Authenticate").isPresent(), rejectedScript::toString);
    }

    /** The entry of {@code model}'s serving version in an overview, or null. */
    static JsonObject version(HttpResult r, String model) {
        return r.json().getJsonArray("data").stream()
                .map(JsonValue::asJsonObject)
                .filter(v -> v.getString("model").equals(model) && v.getBoolean("serving"))
                .findFirst()
                .orElse(null);
    }
}
