package dev.anvil.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.bind.Jsonb;
import jakarta.json.bind.JsonbBuilder;
import java.io.StringReader;
import org.junit.jupiter.api.Test;

class ApiErrorsTest {

    private static JsonObject serialize(Object body) throws Exception {
        try (Jsonb jsonb = JsonbBuilder.create()) {
            return Json.createReader(new StringReader(jsonb.toJson(body))).readObject();
        }
    }

    @Test
    void errorBodyHasOpenAiShapeWithExplicitNulls() throws Exception {
        JsonObject json = serialize(ApiErrors.body(ApiErrors.TYPE_INVALID_REQUEST, "bad temperature", null, null));
        JsonObject error = json.getJsonObject("error");
        assertEquals("bad temperature", error.getString("message"));
        assertEquals("invalid_request_error", error.getString("type"));
        assertTrue(error.containsKey("param") && error.isNull("param"), "param must be present as null: " + json);
        assertTrue(error.containsKey("code") && error.isNull("code"), "code must be present as null: " + json);
        assertEquals(1, json.size(), "only the 'error' member at top level: " + json);
    }

    @Test
    void apiExceptionCarriesStatusTypeParamAndCode() throws Exception {
        ApiException notFound = ApiException.notFound("Model 'x' not found", "model", "model_not_found");
        assertEquals(404, notFound.status());
        JsonObject error = serialize(
                        ApiErrors.body(notFound.type(), notFound.getMessage(), notFound.param(), notFound.code()))
                .getJsonObject("error");
        assertEquals("not_found_error", error.getString("type"));
        assertEquals("model", error.getString("param"));
        assertEquals("model_not_found", error.getString("code"));
    }

    @Test
    void apiExceptionRejectsNonErrorStatus() {
        assertThrows(
                IllegalArgumentException.class, () -> new ApiException(200, ApiErrors.TYPE_SERVER, "ok?", null, null));
    }

    @Test
    void typeForStatusFollowsOpenAiConventions() {
        assertEquals("invalid_request_error", ApiErrors.typeForStatus(400));
        assertEquals("invalid_request_error", ApiErrors.typeForStatus(404));
        assertEquals("conflict_error", ApiErrors.typeForStatus(409));
        assertEquals("rate_limit_error", ApiErrors.typeForStatus(429));
        assertEquals("server_error", ApiErrors.typeForStatus(500));
        assertEquals("service_unavailable_error", ApiErrors.typeForStatus(503));
    }
}
