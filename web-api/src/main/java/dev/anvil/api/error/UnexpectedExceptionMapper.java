package dev.anvil.api.error;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import jakarta.ws.rs.ext.Providers;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Last-resort mapper. EJB system exceptions wrap what resource code threw, so first look inside
 * {@code jakarta.ejb.EJBException} (and similar wrappers) for an exception another mapper knows. A failure because
 * the database cannot be reached ({@link DatabaseUnavailable}) is a 503 with {@code Retry-After} that says so:
 * registry, experiment and gateway administration wait for it, while serving goes on. Otherwise log the full
 * failure under an incident id and return a 500 whose message reveals nothing internal.
 */
@Provider
public class UnexpectedExceptionMapper implements ExceptionMapper<Throwable> {

    private static final Logger LOG = Logger.getLogger(UnexpectedExceptionMapper.class.getName());

    @Context
    Providers providers;

    @Override
    @SuppressWarnings({"unchecked", "rawtypes"})
    public Response toResponse(Throwable exception) {
        Throwable cause = exception.getCause();
        for (int depth = 0; depth < 8 && cause != null && cause != exception; depth++) {
            if (cause instanceof ApiException
                    || cause instanceof WebApplicationException
                    || cause instanceof jakarta.validation.ValidationException
                    || cause instanceof jakarta.json.bind.JsonbException) {
                ExceptionMapper mapper = providers == null ? null : providers.getExceptionMapper(cause.getClass());
                if (mapper != null && !(mapper instanceof UnexpectedExceptionMapper)) {
                    return mapper.toResponse(cause);
                }
            }
            cause = cause.getCause();
        }
        String incident = ApiErrors.newIncident();
        if (DatabaseUnavailable.causedBy(exception)) {
            // Expected while the database is down: the cause without the stack is enough (logged once per request).
            LOG.log(Level.WARNING, "Database unavailable, incident " + incident + ": " + RootCause.describe(exception));
            return Response.fromResponse(ApiErrors.response(
                            503,
                            ApiErrors.TYPE_SERVICE_UNAVAILABLE,
                            "the database is unavailable: this request needs it and cannot be served now (generations that do not"
                                    + " need it are still served); retry in " + DatabaseUnavailable.RETRY_AFTER_SECONDS
                                    + " seconds (incident " + incident + ")",
                            null,
                            "database_unavailable"))
                    .header("Retry-After", DatabaseUnavailable.RETRY_AFTER_SECONDS)
                    .build();
        }
        return ApiErrors.internalError(LOG, "Unhandled exception", incident, exception);
    }
}
