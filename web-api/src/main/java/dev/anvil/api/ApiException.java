package dev.anvil.api;

import jakarta.ws.rs.core.Response;

/**
 * Thrown by resource code to answer with a specific OpenAI-style error. Mapped by
 * {@link dev.anvil.api.error.ApiExceptionMapper}; also recognised when wrapped in an {@code EJBException}.
 */
public class ApiException extends RuntimeException {

    private final int status;
    private final String type;
    private final String param;
    private final String code;

    public ApiException(int status, String type, String message, String param, String code) {
        super(message);
        if (status < 400 || status > 599) {
            throw new IllegalArgumentException("ApiException status must be 4xx or 5xx, got " + status);
        }
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** {@code body} itself; a 400 when an admin request that needs a JSON body came without one. */
    public static <T> T requireBody(T body) {
        if (body == null) throw badRequest("a JSON request body is required", null);
        return body;
    }

    public static ApiException badRequest(String message, String param) {
        return new ApiException(400, ApiErrors.TYPE_INVALID_REQUEST, message, param, null);
    }

    public static ApiException notFound(String message, String param, String code) {
        return new ApiException(404, ApiErrors.TYPE_NOT_FOUND, message, param, code);
    }

    public static ApiException conflict(String message, String param, String code) {
        return new ApiException(409, ApiErrors.TYPE_CONFLICT, message, param, code);
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }

    public Response toResponse() {
        return ApiErrors.response(status, type, getMessage(), param, code);
    }
}
