package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Every failure, whoever raises it, comes back as {"error":{"message","type","param","code"}}. */
@ExtendWith(AnvilServerExtension.class)
class ErrorBodyIT {

    /** Any JSON-consuming endpoint exercises the generic mapper; the registry's create is one. */
    private static final String JSON_ENDPOINT = "/api/registry/models";

    private static JsonObject assertErrorShape(HttpResult result, int status, String type) {
        assertEquals(status, result.status(), result::toString);
        assertTrue(result.contentType().startsWith("application/json"), result::toString);
        JsonObject body = result.json();
        assertEquals(1, body.size(), "only an 'error' member: " + result);
        JsonObject error = body.getJsonObject("error");
        assertEquals(type, error.getString("type"), result::toString);
        assertTrue(!error.getString("message").isBlank(), result::toString);
        assertTrue(
                error.containsKey("param") && error.containsKey("code"),
                "param and code keys always present: " + result);
        return error;
    }

    @Test
    void unknownPathIs404WithErrorBody(AnvilServer server) {
        HttpResult result = server.get("/v1/no-such-endpoint");
        JsonObject error = assertErrorShape(result, 404, "invalid_request_error");
        assertEquals("unknown_path", error.getString("code"), result::toString);
        assertTrue(error.getString("message").contains("/v1/no-such-endpoint"), result::toString);
        assertTrue(error.isNull("param"), result::toString);
    }

    @Test
    void malformedJsonIs400WithErrorBody(AnvilServer server) {
        HttpResult result = server.post(JSON_ENDPOINT, "{\"name\": \"broken\", ");
        JsonObject error = assertErrorShape(result, 400, "invalid_request_error");
        assertEquals("invalid_json", error.getString("code"), result::toString);
        assertTrue(!result.body().contains("Exception"), "no Java exception names leak: " + result);
    }

    @Test
    void wrongMethodIs405WithAllowHeader(AnvilServer server) {
        HttpResult result = server.request("DELETE", "/health/ready", null, Map.of());
        JsonObject error = assertErrorShape(result, 405, "invalid_request_error");
        assertEquals("method_not_allowed", error.getString("code"), result::toString);
        assertTrue(result.headers().firstValue("Allow").orElse("").contains("GET"), result::toString);
    }

    @Test
    void unsupportedMediaTypeIs415WithErrorBody(AnvilServer server) {
        HttpResult result = server.request(
                "POST", JSON_ENDPOINT, "name=x", Map.of("Content-Type", "application/x-www-form-urlencoded"));
        JsonObject error = assertErrorShape(result, 415, "invalid_request_error");
        assertEquals("unsupported_media_type", error.getString("code"), result::toString);
    }
}
