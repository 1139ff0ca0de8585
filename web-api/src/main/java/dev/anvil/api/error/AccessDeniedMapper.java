package dev.anvil.api.error;

import dev.anvil.api.ApiErrors;
import jakarta.ejb.EJBAccessException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import java.util.logging.Logger;

/**
 * An EJB refused its caller ({@code @RolesAllowed} on the beans behind the admin API). The resource method's own
 * check ({@link dev.anvil.api.security.AccessControlFeature}) refuses such callers first, so reaching this means a
 * resource lacks its declaration: answered as the 403 it is, and logged, since it is a defect to fix.
 */
@Provider
public class AccessDeniedMapper implements ExceptionMapper<EJBAccessException> {

    private static final Logger LOG = Logger.getLogger(AccessDeniedMapper.class.getName());

    @Override
    public Response toResponse(EJBAccessException exception) {
        LOG.warning(() -> "an EJB refused the caller of a resource that let it through: " + exception.getMessage());
        return ApiErrors.forbidden(
                "the caller is not allowed to do this (it needs the role 'anvil-admin')", "access_denied");
    }
}
