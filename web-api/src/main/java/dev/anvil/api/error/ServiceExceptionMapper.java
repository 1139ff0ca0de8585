package dev.anvil.api.error;

import dev.anvil.api.ApiErrors;
import dev.anvil.service.ServiceException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;

/** Answers a service's refusal (registry, experiments) with the status of its kind and an OpenAI-style body. */
@Provider
public class ServiceExceptionMapper implements ExceptionMapper<ServiceException> {

    @Override
    public Response toResponse(ServiceException e) {
        return ApiErrors.response(status(e.kind()), type(e.kind()), e.getMessage(), e.param(), e.code());
    }

    public static int status(ServiceException.Kind kind) {
        return switch (kind) {
            case BAD_REQUEST -> 400;
            case NOT_FOUND -> 404;
            case CONFLICT -> 409;
            case UNAVAILABLE -> 503;
        };
    }

    public static String type(ServiceException.Kind kind) {
        return switch (kind) {
            case BAD_REQUEST -> ApiErrors.TYPE_INVALID_REQUEST;
            case NOT_FOUND -> ApiErrors.TYPE_NOT_FOUND;
            case CONFLICT -> ApiErrors.TYPE_CONFLICT;
            case UNAVAILABLE -> ApiErrors.TYPE_SERVICE_UNAVAILABLE;
        };
    }
}
