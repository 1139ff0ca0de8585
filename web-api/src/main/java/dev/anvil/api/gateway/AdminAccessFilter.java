package dev.anvil.api.gateway;

import dev.anvil.gateway.GatewayLedger;
import jakarta.annotation.Priority;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ContainerResponseFilter;
import jakarta.ws.rs.container.PreMatching;
import jakarta.ws.rs.core.SecurityContext;
import jakarta.ws.rs.ext.Provider;
import java.security.Principal;

/**
 * The admin API ({@code /api/**}) is for users with the role {@value #ADMIN_ROLE}. Authentication is the
 * container's: HTTP Basic against the Elytron security domain {@code anvil} (server-config 80-security.cli, the
 * WAR's jboss-web.xml), done proactively whenever credentials are sent; this filter answers the callers it did
 * not admit with OpenAI-style bodies (401 with a Basic challenge without credentials, 403 without the role) and
 * audits every admin request with its user, method, path and status.
 */
@Provider
@PreMatching
@Priority(Priorities.AUTHORIZATION)
@ApplicationScoped
public class AdminAccessFilter implements ContainerRequestFilter, ContainerResponseFilter {

    public static final String ADMIN_ROLE = "anvil-admin";
    private static final String CHALLENGE = "Basic realm=\"anvil\", charset=\"UTF-8\"";
    private static final String APPLIES = AdminAccessFilter.class.getName() + ".applies";

    @EJB
    GatewayLedger ledger;

    @Override
    public void filter(ContainerRequestContext request) {
        String path = path(request);
        if (!path.equals("/api") && !path.startsWith("/api/")) {
            return;
        }
        request.setProperty(APPLIES, Boolean.TRUE);
        SecurityContext security = request.getSecurityContext();
        Principal user = security == null ? null : security.getUserPrincipal();
        if (user == null || user.getName() == null || user.getName().equals(CallerContext.ANONYMOUS)) {
            request.abortWith(GatewayErrors.unauthorized("the admin API needs a user with the role '" + ADMIN_ROLE
                    + "' (HTTP Basic); create one with `bin/anvil admin-user NAME`", "admin_authentication_required", CHALLENGE));
            return;
        }
        if (!security.isUserInRole(ADMIN_ROLE)) {
            request.abortWith(GatewayErrors.forbidden("user '" + user.getName() + "' does not have the role '" + ADMIN_ROLE
                    + "' the admin API requires", "admin_role_required"));
        }
    }

    @Override
    public void filter(ContainerRequestContext request, ContainerResponseContext response) {
        if (request.getProperty(APPLIES) == null) {
            return;
        }
        SecurityContext security = request.getSecurityContext();
        Principal user = security == null ? null : security.getUserPrincipal();
        String actor = user == null || user.getName() == null ? CallerContext.ANONYMOUS : user.getName();
        ledger.audit(actor, null, "admin.request", request.getMethod() + " " + request.getUriInfo().getRequestUri().getRawPath()
                + (request.getUriInfo().getRequestUri().getRawQuery() == null ? "" : "?" + request.getUriInfo().getRequestUri().getRawQuery()),
                response.getStatus(), null);
    }

    /** The request path from the application root, with a leading '/'. */
    static String path(ContainerRequestContext request) {
        String path = request.getUriInfo().getPath();
        return path.startsWith("/") ? path : "/" + path;
    }
}
