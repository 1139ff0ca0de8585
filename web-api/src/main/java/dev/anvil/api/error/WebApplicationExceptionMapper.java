package dev.anvil.api.error;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ErrorResponse;
import jakarta.ws.rs.NotAcceptableException;
import jakarta.ws.rs.NotAllowedException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.NotSupportedException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Request;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Turns JAX-RS runtime errors (unknown path, wrong method, unsupported media type, bad parameters)
 * into OpenAI-style error bodies, keeping their HTTP status and headers such as {@code Allow}.
 */
@Provider
public class WebApplicationExceptionMapper implements ExceptionMapper<WebApplicationException> {

    private static final Logger LOG = Logger.getLogger(WebApplicationExceptionMapper.class.getName());

    @Context
    UriInfo uriInfo;

    @Context
    Request request;

    @Context
    HttpHeaders headers;

    @Override
    public Response toResponse(WebApplicationException exception) {
        Response original = exception.getResponse();
        if (original.hasEntity() && original.getEntity() instanceof ErrorResponse) {
            return original; // already in our format (thrown with ApiErrors.response(...))
        }
        int status = original.getStatus();
        String message = messageFor(exception, status);
        String code = codeFor(exception, status);
        if (status >= 500) {
            LOG.log(Level.WARNING, "JAX-RS error " + status + " for " + describeRequest(), exception);
        }
        Response.ResponseBuilder builder =
                Response.fromResponse(ApiErrors.response(status, ApiErrors.typeForStatus(status), message, null, code));
        // Keep protocol headers the runtime set (Allow for 405, WWW-Authenticate, Retry-After...).
        original.getStringHeaders().forEach((name, values) -> {
            if (!HttpHeaders.CONTENT_TYPE.equalsIgnoreCase(name)
                    && !HttpHeaders.CONTENT_LENGTH.equalsIgnoreCase(name)) {
                values.forEach(value -> builder.header(name, value));
            }
        });
        return builder.build();
    }

    private String messageFor(WebApplicationException exception, int status) {
        if (exception instanceof NotFoundException) {
            return "Unknown path: " + describeRequest();
        }
        if (exception instanceof NotAllowedException) {
            return "Method " + method() + " is not allowed for /" + path()
                    + allowedSuffix(exception.getResponse().getAllowedMethods());
        }
        if (exception instanceof NotSupportedException) {
            String contentType = headers == null ? null : headers.getHeaderString(HttpHeaders.CONTENT_TYPE);
            return "Unsupported Content-Type " + (contentType == null ? "(none)" : "'" + contentType + "'") + " for "
                    + describeRequest() + "; send application/json";
        }
        if (exception instanceof NotAcceptableException) {
            return "None of the media types in the Accept header can be produced for " + describeRequest();
        }
        if (status >= 500) {
            return "The server had an error while processing your request";
        }
        String detail = exception.getMessage();
        return detail == null || detail.isBlank() ? "Request failed with HTTP status " + status : detail;
    }

    private static String codeFor(WebApplicationException exception, int status) {
        if (exception instanceof NotFoundException) {
            return "unknown_path";
        }
        if (exception instanceof NotAllowedException) {
            return "method_not_allowed";
        }
        if (exception instanceof NotSupportedException) {
            return "unsupported_media_type";
        }
        if (exception instanceof NotAcceptableException) {
            return "not_acceptable";
        }
        return null;
    }

    private static String allowedSuffix(java.util.Set<String> allowed) {
        return allowed == null || allowed.isEmpty() ? "" : " (allowed: " + String.join(", ", allowed) + ")";
    }

    private String describeRequest() {
        return method() + " /" + path();
    }

    private String method() {
        return request == null ? "?" : request.getMethod();
    }

    private String path() {
        if (uriInfo == null) {
            return "";
        }
        String path = uriInfo.getPath();
        return path.startsWith("/") ? path.substring(1) : path;
    }
}
