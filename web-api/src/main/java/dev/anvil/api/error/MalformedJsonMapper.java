package dev.anvil.api.error;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import jakarta.json.JsonException;
import jakarta.json.bind.JsonbException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;

/**
 * A request body that is not valid JSON, or does not fit the expected shape, surfaces from JSON-B/JSON-P
 * directly as {@link JsonbException}/{@link JsonException}. That is the client's fault: 400, not 500.
 */
public final class MalformedJsonMapper {

    private MalformedJsonMapper() {}

    static Response badJson(Throwable cause) {
        // A body cut for its size while it was read (JsonDepthLimit) is the API's 413, whatever wrapped it.
        ApiException tooLarge = RootCause.find(cause, ApiException.class);
        if (tooLarge != null) {
            return ApiErrors.response(
                    tooLarge.status(), tooLarge.type(), tooLarge.getMessage(), tooLarge.param(), tooLarge.code());
        }
        return ApiErrors.response(
                400,
                ApiErrors.TYPE_INVALID_REQUEST,
                "Request body is not valid JSON for this endpoint: " + RootCause.describe(cause),
                null,
                "invalid_json");
    }

    /** JSON-B binding failures (syntax errors, wrong value types). */
    @Provider
    public static class Jsonb implements ExceptionMapper<JsonbException> {
        @Override
        public Response toResponse(JsonbException exception) {
            return badJson(exception);
        }
    }

    /** JSON-P parsing failures (endpoints that read a JsonObject). */
    @Provider
    public static class JsonP implements ExceptionMapper<JsonException> {
        @Override
        public Response toResponse(JsonException exception) {
            return badJson(exception);
        }
    }
}
