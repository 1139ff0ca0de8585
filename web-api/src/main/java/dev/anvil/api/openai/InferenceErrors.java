package dev.anvil.api.openai;

import dev.anvil.api.ApiErrors;
import dev.anvil.serving.InferenceException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;

/** Maps the inference service's failures to OpenAI-style HTTP errors. */
final class InferenceErrors {

    private InferenceErrors() {}

    /**
     * @param promptParam the request field that holds the prompt on this endpoint ({@code prompt} or
     *                    {@code messages}): context-length errors about the prompt name it
     */
    static Response response(InferenceException e, String promptParam) {
        String param = e.param();
        if (("prompt".equals(param) || "messages".equals(param)) && !param.equals(promptParam)) {
            param = promptParam;
        }
        return switch (e.kind()) {
            case NOT_FOUND ->
                ApiErrors.response(404, ApiErrors.TYPE_NOT_FOUND, e.getMessage(), param, "model_not_found");
            case INVALID -> ApiErrors.response(400, ApiErrors.TYPE_INVALID_REQUEST, e.getMessage(), param, e.code());
            case CONTEXT_LENGTH ->
                ApiErrors.response(
                        400, ApiErrors.TYPE_INVALID_REQUEST, e.getMessage(), param, "context_length_exceeded");
            case OVERLOADED, UNAVAILABLE ->
                Response.fromResponse(ApiErrors.response(
                                503, ApiErrors.TYPE_SERVICE_UNAVAILABLE, e.getMessage(), null, e.code()))
                        .header(HttpHeaders.RETRY_AFTER, Math.max(1, e.retryAfterSeconds()))
                        .build();
        };
    }

    /** The same, as an exception the foundation's WebApplicationException mapper passes through unchanged. */
    static WebApplicationException exception(InferenceException e, String promptParam) {
        return new WebApplicationException(e.getMessage(), e, response(e, promptParam));
    }
}
