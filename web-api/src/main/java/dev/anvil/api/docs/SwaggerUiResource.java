package dev.anvil.api.docs;

import jakarta.annotation.security.PermitAll;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * Serves the Swagger UI (from the org.webjars swagger-ui jar in WEB-INF/lib) at /swagger-ui/, pointed at
 * this server's /openapi document. A JAX-RS resource rather than static files because the JAX-RS
 * application owns every path of the "/" context.
 */
@Path("/swagger-ui")
@PermitAll
@ApplicationScoped
@Tag(name = "operations")
public class SwaggerUiResource {

    private static final Map<String, String> CONTENT_TYPES = Map.of(
            "html", "text/html; charset=utf-8",
            "js", "text/javascript; charset=utf-8",
            "css", "text/css; charset=utf-8",
            "png", "image/png",
            "json", "application/json",
            "map", "application/json");

    /** Replaces the webjar's initializer, which would load the public Petstore example. */
    private static final String INITIALIZER = """
            window.onload = function () {
              window.ui = SwaggerUIBundle({
                url: "/openapi?format=JSON",
                dom_id: "#swagger-ui",
                deepLinking: true,
                presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
                layout: "StandaloneLayout"
              });
            };
            """;

    private final String assetRoot = "META-INF/resources/webjars/swagger-ui/" + webjarVersion() + "/";

    @Context
    UriInfo uriInfo;

    /** JAX-RS matches both "/swagger-ui" and "/swagger-ui/" here (the trailing slash is not significant). */
    @GET
    @Operation(summary = "Swagger UI", hidden = true)
    public Response index() {
        if (!uriInfo.getRequestUri().getPath().endsWith("/")) {
            // index.html loads its assets by relative URL, which only resolve below "/swagger-ui/".
            return Response.seeOther(URI.create("/swagger-ui/")).build();
        }
        return asset("index.html");
    }

    @GET
    @Path("/{file}")
    @Operation(summary = "Swagger UI static assets", hidden = true)
    public Response asset(@PathParam("file") String file) {
        String name = file;
        if (name.equals("swagger-initializer.js")) {
            return Response.ok(INITIALIZER, CONTENT_TYPES.get("js")).build();
        }
        // Only flat file names exist in the webjar; refusing '/' and '..' rules out path traversal.
        if (name.contains("/") || name.contains("\\") || name.contains("..")) {
            throw new NotFoundException();
        }
        String extension = name.substring(name.lastIndexOf('.') + 1);
        String contentType = CONTENT_TYPES.get(extension);
        InputStream asset = contentType == null
                ? null
                : SwaggerUiResource.class.getClassLoader().getResourceAsStream(assetRoot + name);
        if (asset == null) {
            throw new NotFoundException();
        }
        return Response.ok(asset, contentType)
                .header("Cache-Control", "public, max-age=3600")
                .build();
    }

    private static String webjarVersion() {
        Properties properties = new Properties();
        try (InputStream in = SwaggerUiResource.class.getResourceAsStream("swagger-ui.properties")) {
            if (in == null) {
                throw new IllegalStateException("swagger-ui.properties missing from the web-api WAR");
            }
            properties.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return properties.getProperty("swagger-ui.version");
    }
}
