package dev.anvil.api.error;

import dev.anvil.api.ApiErrors;
import jakarta.json.JsonException;
import jakarta.json.bind.JsonbException;
import jakarta.ws.rs.ProcessingException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import java.util.logging.Logger;

/**
 * RESTEasy wraps entity-provider failures in {@link ProcessingException}. When the cause is a JSON
 * parse/binding error the client sent a malformed body (400); anything else is a server fault (500).
 */
@Provider
public class ProcessingExceptionMapper implements ExceptionMapper<ProcessingException> {

    private static final Logger LOG = Logger.getLogger(ProcessingExceptionMapper.class.getName());

    @Override
    public Response toResponse(ProcessingException exception) {
        if (RootCause.find(exception, JsonbException.class) != null
                || RootCause.find(exception, JsonException.class) != null) {
            return MalformedJsonMapper.badJson(exception);
        }
        return ApiErrors.internalError(LOG, "Entity processing failed", ApiErrors.newIncident(), exception);
    }
}
