package dev.anvil.api;

import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Builds OpenAI-style error responses. Every error leaving the API goes through here so that clients
 * always get the same JSON shape, whatever failed (resource code, JAX-RS runtime, JSON parsing, EJBs).
 */
public final class ApiErrors {

    /** The request is malformed or semantically invalid (400, 404 for unknown paths, 405, 415, ...). */
    public static final String TYPE_INVALID_REQUEST = "invalid_request_error";
    /** A named resource (model, file, ...) does not exist. */
    public static final String TYPE_NOT_FOUND = "not_found_error";
    /** The request conflicts with the current state (e.g. a duplicate name). */
    public static final String TYPE_CONFLICT = "conflict_error";
    /** Too many requests or no capacity right now; the client may retry later. */
    public static final String TYPE_RATE_LIMIT = "rate_limit_error";
    /** The server failed; the message is deliberately generic. */
    public static final String TYPE_SERVER = "server_error";
    /** The caller is authenticated but not allowed (a key outside its model scope, a user without the role). */
    public static final String TYPE_PERMISSION = "permission_error";
    /** A dependency (database, engine) is temporarily unavailable. */
    public static final String TYPE_SERVICE_UNAVAILABLE = "service_unavailable_error";

    private ApiErrors() {}

    /** The error body alone, e.g. for streaming responses that must embed an error event. */
    public static ErrorResponse body(String type, String message, String param, String code) {
        return new ErrorResponse(new ErrorDetail(message, type, param, code));
    }

    /** A complete JSON error response with the given HTTP status. */
    public static Response response(int status, String type, String message, String param, String code) {
        return Response.status(status)
                .type(MediaType.APPLICATION_JSON_TYPE)
                .entity(body(type, message, param, code))
                .build();
    }

    /**
     * 401 with the {@code WWW-Authenticate} challenge of the scheme the caller should use. The type stays
     * {@code invalid_request_error}, as OpenAI answers a missing or wrong key.
     */
    public static Response unauthorized(String message, String code, String challenge) {
        return Response.fromResponse(response(401, TYPE_INVALID_REQUEST, message, null, code))
                .header("WWW-Authenticate", challenge)
                .build();
    }

    /** 403 permission_error. */
    public static Response forbidden(String message, String code) {
        return response(403, TYPE_PERMISSION, message, null, code);
    }

    /**
     * A 500 that reveals nothing internal: the failure is logged (SEVERE, with its stack) under {@code incident}, and
     * the client gets only that id to quote.
     */
    public static Response internalError(Logger log, String what, String incident, Throwable failure) {
        log.log(Level.SEVERE, what + ", incident " + incident, failure);
        return response(
                500,
                TYPE_SERVER,
                "The server had an error while processing your request (incident " + incident + ")",
                null,
                null);
    }

    /** A fresh incident id for {@link #internalError}. */
    public static String newIncident() {
        return UUID.randomUUID().toString();
    }

    /** 400 invalid_request_error for a bad value of {@code param}. */
    public static Response badRequest(String message, String param) {
        return response(400, TYPE_INVALID_REQUEST, message, param, null);
    }

    /** 404 not_found_error for a missing named resource; {@code code} e.g. {@code model_not_found}. */
    public static Response notFound(String message, String param, String code) {
        return response(404, TYPE_NOT_FOUND, message, param, code);
    }

    /** Maps an HTTP status to the error type a client should see when nothing more specific is known. */
    public static String typeForStatus(int status) {
        if (status == 404) {
            return TYPE_INVALID_REQUEST; // an unknown path is a client mistake, as in OpenAI's API
        }
        if (status == 409) {
            return TYPE_CONFLICT;
        }
        if (status == 429) {
            return TYPE_RATE_LIMIT;
        }
        if (status == 503) {
            return TYPE_SERVICE_UNAVAILABLE;
        }
        return status >= 500 ? TYPE_SERVER : TYPE_INVALID_REQUEST;
    }
}
