package dev.anvil.api;

import jakarta.ws.rs.ApplicationPath;
import jakarta.ws.rs.core.Application;
import org.eclipse.microprofile.openapi.annotations.OpenAPIDefinition;
import org.eclipse.microprofile.openapi.annotations.enums.SecuritySchemeType;
import org.eclipse.microprofile.openapi.annotations.info.Info;
import org.eclipse.microprofile.openapi.annotations.info.License;
import org.eclipse.microprofile.openapi.annotations.security.SecurityScheme;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * The single JAX-RS application of Anvil, mounted at the web-api context root "/". Resources and
 * providers are discovered by scanning the WAR (and the EJB module for EJB-backed resources).
 * WildFly's OpenAPI subsystem reads the annotations below and serves the document at /openapi.
 *
 * <p>Every resource declares who may call it ({@link dev.anvil.api.security.AccessControlFeature}); the document
 * carries the same declaration as each operation's security requirement: {@value #ADMIN_SECURITY} (HTTP Basic,
 * role {@code anvil-admin}), {@value #API_KEY_SECURITY} (the gateway's Bearer API keys) or none (public).
 */
@ApplicationPath("/")
@OpenAPIDefinition(
        info =
                @Info(
                        title = "Anvil",
                        version = "0.1.0",
                        description = "LLM serving on Jakarta EE: OpenAI-compatible inference API, model registry, "
                                + "health and metrics. Every error body has the shape "
                                + "{\"error\":{\"message\",\"type\",\"param\",\"code\"}}.",
                        license = @License(name = "Apache-2.0")),
        tags = {@Tag(name = "operations", description = "Health probes, metrics and API documentation")})
@SecurityScheme(
        securitySchemeName = AnvilApplication.ADMIN_SECURITY,
        type = SecuritySchemeType.HTTP,
        scheme = "basic",
        description =
                "Administrators: HTTP Basic against the server's user store (bin/anvil admin-user), role anvil-admin")
@SecurityScheme(
        securitySchemeName = AnvilApplication.API_KEY_SECURITY,
        type = SecuritySchemeType.HTTP,
        scheme = "bearer",
        description = "API keys (Authorization: Bearer anv-...) created with POST /api/gateway/tenants/{tenant}/keys; "
                + "optional only while the server listens on loopback, or where anvil.gateway.require-api-key=false")
public class AnvilApplication extends Application {

    /** OpenAPI security scheme of the admin API. */
    public static final String ADMIN_SECURITY = "admin";
    /** OpenAPI security scheme of the OpenAI-compatible API. */
    public static final String API_KEY_SECURITY = "apiKey";
}
