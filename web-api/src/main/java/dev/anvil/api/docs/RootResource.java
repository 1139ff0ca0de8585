package dev.anvil.api.docs;

import jakarta.annotation.security.PermitAll;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** A browser opening http://host:8080/ lands on the admin page, which links to the docs. */
@Path("/")
@PermitAll
@ApplicationScoped
public class RootResource {

    @GET
    @Operation(summary = "Redirect to the admin page", hidden = true)
    public Response root() {
        return Response.seeOther(URI.create("/admin/")).build();
    }
}
