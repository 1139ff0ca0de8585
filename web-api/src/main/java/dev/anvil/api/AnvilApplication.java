package dev.anvil.api;

import jakarta.ws.rs.ApplicationPath;
import jakarta.ws.rs.core.Application;
import org.eclipse.microprofile.openapi.annotations.OpenAPIDefinition;
import org.eclipse.microprofile.openapi.annotations.info.Info;
import org.eclipse.microprofile.openapi.annotations.info.License;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * The single JAX-RS application of Anvil, mounted at the web-api context root "/". Resources and
 * providers are discovered by scanning the WAR (and the EJB module for EJB-backed resources).
 * WildFly's OpenAPI subsystem reads the annotations below and serves the document at /openapi.
 */
@ApplicationPath("/")
@OpenAPIDefinition(
        info = @Info(
                title = "Anvil",
                version = "0.1.0",
                description = "LLM serving on Jakarta EE: OpenAI-compatible inference API, model registry, "
                        + "health and metrics. Every error body has the shape "
                        + "{\"error\":{\"message\",\"type\",\"param\",\"code\"}}.",
                license = @License(name = "Apache-2.0")),
        tags = {
                @Tag(name = "operations", description = "Health probes, metrics and API documentation")
        })
public class AnvilApplication extends Application {
}
