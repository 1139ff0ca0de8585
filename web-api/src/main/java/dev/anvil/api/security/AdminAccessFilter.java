package dev.anvil.api.security;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.EndpointTemplate;
import dev.anvil.gateway.GatewayLedger;
import dev.anvil.security.Callers;
import dev.anvil.security.Roles;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ContainerResponseFilter;
import jakarta.ws.rs.core.SecurityContext;
import java.security.Principal;

/**
 * The role check of one admin resource method ({@code @RolesAllowed(Roles.ADMIN)}), bound to it by
 * {@link AccessControlFeature}: it runs for exactly the method a request invokes, however the path was spelled.
 * Authentication is the container's: HTTP Basic against the Elytron domain {@code AnvilDomain} (server-config
 * 80-security.cli; the WAR's jboss-web.xml), done whenever credentials are sent. This filter answers the callers it
 * does not admit with OpenAI-style bodies (401 with a Basic challenge without credentials, unless a script asks:
 * {@link ScriptedCaller}; 403 without the role),
 * and audits every admin call with its user, method, endpoint (path parameters as the resource received them) and
 * status.
 */
final class AdminAccessFilter implements ContainerRequestFilter, ContainerResponseFilter {

    static final String CHALLENGE = "Basic realm=\"anvil\", charset=\"UTF-8\"";

    private final GatewayLedger ledger;
    private final String endpoint;

    AdminAccessFilter(GatewayLedger ledger, String endpoint) {
        this.ledger = ledger;
        this.endpoint = endpoint;
    }

    @Override
    public void filter(ContainerRequestContext request) {
        Principal user = user(request);
        if (user == null) {
            request.abortWith(ApiErrors.unauthorized(
                    "the admin API needs a user with the role '" + Roles.ADMIN
                            + "' (HTTP Basic); create one with `bin/anvil admin-user NAME`",
                    "admin_authentication_required",
                    ScriptedCaller.isScripted(request.getHeaderString(ScriptedCaller.HEADER)) ? null : CHALLENGE));
            return;
        }
        if (!request.getSecurityContext().isUserInRole(Roles.ADMIN)) {
            request.abortWith(ApiErrors.forbidden(
                    "user '" + user.getName() + "' does not have the role '" + Roles.ADMIN + "' the admin API requires",
                    "admin_role_required"));
        }
    }

    @Override
    public void filter(ContainerRequestContext request, ContainerResponseContext response) {
        Principal user = user(request);
        String query = request.getUriInfo().getRequestUri().getRawQuery();
        ledger.audit(
                user == null ? Callers.ANONYMOUS : user.getName(),
                null,
                "admin.request",
                request.getMethod() + " "
                        + EndpointTemplate.concrete(
                                endpoint, request.getUriInfo().getPathParameters())
                        + (query == null ? "" : "?" + query),
                response.getStatus(),
                null);
    }

    /** The authenticated user, or null for an anonymous caller. */
    private static Principal user(ContainerRequestContext request) {
        SecurityContext security = request.getSecurityContext();
        Principal user = security == null ? null : security.getUserPrincipal();
        return user == null || user.getName() == null || user.getName().equals(Callers.ANONYMOUS) ? null : user;
    }
}
