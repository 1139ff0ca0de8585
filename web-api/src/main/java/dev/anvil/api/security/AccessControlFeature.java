package dev.anvil.api.security;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.EndpointTemplate;
import dev.anvil.api.gateway.ApiKeyFilter;
import dev.anvil.gateway.GatewayLedger;
import dev.anvil.security.Roles;
import jakarta.annotation.security.DenyAll;
import jakarta.annotation.security.PermitAll;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ContainerResponseFilter;
import jakarta.ws.rs.container.DynamicFeature;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.FeatureContext;
import jakarta.ws.rs.ext.Provider;
import java.io.IOException;
import java.lang.reflect.AnnotatedElement;
import java.lang.reflect.Method;
import java.util.List;
import java.util.logging.Logger;

/**
 * Authorization decided on what a request invokes. JAX-RS calls {@link #configure} once per resource method, and
 * this binds to that method the check its declaration asks for:
 * <ul>
 *   <li>{@code @RolesAllowed(Roles.ADMIN)}: the admin role ({@link AdminAccessFilter}), audited;</li>
 *   <li>{@link ApiKeyAccess}: the API gateway ({@link ApiKeyFilter}: key, model scope, limits, budget, audit);</li>
 *   <li>{@code @PermitAll}: nothing (health, metrics, the API documents);</li>
 *   <li>anything else (no declaration, {@code @DenyAll}, another role): every call is refused with 403.</li>
 * </ul>
 * The method's own declaration wins over its class's. Because the checks are bound to resource methods, not
 * matched against request paths, no spelling of a path (matrix parameters, percent-encoding, doubled slashes)
 * reaches a method without its check; a path that matches no method is a 404 before anything runs. The EJBs
 * behind the admin API check the role again ({@code @RolesAllowed} there), so a resource that forgot its
 * declaration would still not change anything.
 */
@Provider
@ApplicationScoped
public class AccessControlFeature implements DynamicFeature {

    private static final Logger LOG = Logger.getLogger(AccessControlFeature.class.getName());

    /** What a resource method declares about its callers. */
    enum Access {
        ADMIN,
        API_KEY,
        PUBLIC,
        DENIED
    }

    @EJB
    GatewayLedger ledger;

    @Inject
    ApiKeyFilter gateway;

    @Override
    public void configure(ResourceInfo resource, FeatureContext context) {
        Class<?> type = resource.getResourceClass();
        Method method = resource.getResourceMethod();
        String endpoint = EndpointTemplate.of(type, method);
        switch (declared(type, method)) {
            case ADMIN -> context.register(new AdminAccessFilter(ledger, endpoint), Priorities.AUTHORIZATION);
            case API_KEY -> context.register(new GatewayCheck(gateway, endpoint), Priorities.AUTHENTICATION);
            case PUBLIC -> {}
            case DENIED -> {
                LOG.severe(() -> type.getName() + "." + method.getName() + " (" + endpoint
                        + ") declares no access this server" + " knows (@RolesAllowed(\"" + Roles.ADMIN
                        + "\"), @ApiKeyAccess or @PermitAll): every call is refused");
                context.register(new Refusal(endpoint), Priorities.AUTHENTICATION);
            }
        }
    }

    /** The access declared on {@code method}, else on its class; {@link Access#DENIED} when neither declares one. */
    static Access declared(Class<?> type, Method method) {
        Access onMethod = declaredOn(method);
        return onMethod != null ? onMethod : java.util.Objects.requireNonNullElse(declaredOn(type), Access.DENIED);
    }

    private static Access declaredOn(AnnotatedElement element) {
        RolesAllowed roles = element.getAnnotation(RolesAllowed.class);
        boolean apiKey = element.isAnnotationPresent(ApiKeyAccess.class);
        boolean permitAll = element.isAnnotationPresent(PermitAll.class);
        boolean denyAll = element.isAnnotationPresent(DenyAll.class);
        int declarations = (roles == null ? 0 : 1) + (apiKey ? 1 : 0) + (permitAll ? 1 : 0) + (denyAll ? 1 : 0);
        if (declarations == 0) return null;
        if (declarations > 1 || denyAll) return Access.DENIED; // contradictory declarations are refused, not guessed
        if (roles != null) return List.of(roles.value()).equals(List.of(Roles.ADMIN)) ? Access.ADMIN : Access.DENIED;
        return apiKey ? Access.API_KEY : Access.PUBLIC;
    }

    /** The gateway bound to one {@link ApiKeyAccess} method, which it names in usage and audit rows. */
    record GatewayCheck(ApiKeyFilter gateway, String endpoint)
            implements ContainerRequestFilter, ContainerResponseFilter {
        @Override
        public void filter(ContainerRequestContext request) throws IOException {
            gateway.admit(
                    request,
                    EndpointTemplate.concrete(endpoint, request.getUriInfo().getPathParameters()));
        }

        @Override
        public void filter(ContainerRequestContext request, ContainerResponseContext response) {
            gateway.afterResponse(request, response);
        }
    }

    /** Bound to a method without a known declaration: nobody may call it. */
    record Refusal(String endpoint) implements ContainerRequestFilter {
        @Override
        public void filter(ContainerRequestContext request) {
            request.abortWith(ApiErrors.forbidden(
                    request.getMethod() + " " + endpoint + " is not open to any caller on this server",
                    "access_denied"));
        }
    }
}
