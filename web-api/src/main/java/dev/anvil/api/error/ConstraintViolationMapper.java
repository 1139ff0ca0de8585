package dev.anvil.api.error;

import dev.anvil.api.ApiErrors;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;
import jakarta.validation.Path;
import jakarta.validation.ValidationException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import java.util.Comparator;
import java.util.List;
import java.util.logging.Logger;

/**
 * Bean Validation failures on request parameters/bodies become 400 with {@code param} naming the first
 * offending field. A ValidationException that is not a constraint violation is a broken constraint
 * definition on our side (500).
 */
@Provider
public class ConstraintViolationMapper implements ExceptionMapper<ValidationException> {

    private static final Logger LOG = Logger.getLogger(ConstraintViolationMapper.class.getName());

    @Override
    public Response toResponse(ValidationException exception) {
        if (exception instanceof ConstraintViolationException violations
                && violations.getConstraintViolations() != null
                && !violations.getConstraintViolations().isEmpty()) {
            List<ConstraintViolation<?>> sorted = violations.getConstraintViolations().stream()
                    .sorted(Comparator.comparing(v -> String.valueOf(v.getPropertyPath())))
                    .toList();
            String param = leafName(sorted.getFirst().getPropertyPath());
            StringBuilder message = new StringBuilder();
            for (ConstraintViolation<?> violation : sorted) {
                if (!message.isEmpty()) {
                    message.append("; ");
                }
                message.append(leafName(violation.getPropertyPath()))
                        .append(": ")
                        .append(violation.getMessage());
            }
            return ApiErrors.response(400, ApiErrors.TYPE_INVALID_REQUEST, message.toString(), param, null);
        }
        return ApiErrors.internalError(LOG, "Validation configuration error", ApiErrors.newIncident(), exception);
    }

    /** "create.arg0.name" -> "name": clients know their JSON field names, not our Java method names. */
    private static String leafName(Path path) {
        String leaf = null;
        for (Path.Node node : path) {
            if (node.getName() != null) {
                leaf = node.getName();
            }
        }
        return leaf;
    }
}
