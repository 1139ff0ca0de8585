package dev.anvil.api.experiments;

import dev.anvil.api.ApiErrors;
import dev.anvil.experiments.ExperimentException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;

/** Answers an experiment failure with the status of its kind and an OpenAI-style error body. */
@Provider
public class ExperimentExceptionMapper implements ExceptionMapper<ExperimentException> {

    @Override
    public Response toResponse(ExperimentException e) {
        return ApiErrors.response(status(e.kind()), type(e.kind()), e.getMessage(), e.param(), e.code());
    }

    static int status(ExperimentException.Kind kind) {
        return switch (kind) {
            case BAD_REQUEST -> 400;
            case NOT_FOUND -> 404;
            case CONFLICT -> 409;
            case UNAVAILABLE -> 503;
        };
    }

    static String type(ExperimentException.Kind kind) {
        return switch (kind) {
            case BAD_REQUEST -> ApiErrors.TYPE_INVALID_REQUEST;
            case NOT_FOUND -> ApiErrors.TYPE_NOT_FOUND;
            case CONFLICT -> ApiErrors.TYPE_CONFLICT;
            case UNAVAILABLE -> ApiErrors.TYPE_SERVICE_UNAVAILABLE;
        };
    }
}
