package dev.anvil.api.routing;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiException;
import dev.anvil.api.ErrorResponse;
import dev.anvil.gateway.GatewayConfig;
import dev.anvil.routing.RouterAdmin;
import dev.anvil.routing.RouterSpec;
import dev.anvil.security.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * Cost-aware routers, for administrators: thin over {@link RouterAdmin}. A router is a model name of its own
 * (e.g. {@code auto}) that {@code /v1} requests may name; each is answered by the cheapest candidate that meets
 * its needs (docs/USAGE.md, "Cost-aware routing").
 */
@Path("/api/routers")
@RolesAllowed(Roles.ADMIN)
@SecurityRequirement(name = AnvilApplication.ADMIN_SECURITY)
@RequestScoped
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "routers", description = "Cost-aware routers: a model name answered by the cheapest capable model")
public class RoutersResource {

    @EJB
    RouterAdmin routers;

    @Inject
    GatewayConfig prices;

    /** A candidate as the API shows it: its definition and the gateway's prices per 1000 tokens. */
    @Schema(name = "RouterCandidate")
    public record CandidateJson(
            String model,
            Integer maxPromptTokens,
            Integer maxMaxTokens,
            Double maxComplexity,
            Integer expectedTtftMs,
            Integer expectedTpotMs,
            BigDecimal promptPricePer1k,
            BigDecimal completionPricePer1k) {}

    @Schema(name = "Router")
    public record RouterJson(
            String name,
            List<CandidateJson> candidates,
            List<RouterSpec.TenantPolicy> tenants,
            RouterSpec.Cascade cascade,
            Instant createdAt,
            Instant updatedAt,
            String updatedBy) {}

    @Schema(name = "Routers")
    public record RoutersJson(List<RouterJson> data) {}

    @GET
    @Operation(summary = "Routers", description = "Every router with its candidates and their prices")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = RoutersJson.class)))
    public RoutersJson list() {
        return new RoutersJson(routers.list().stream().map(this::json).toList());
    }

    @GET
    @Path("/{name}")
    @Operation(summary = "A router")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = RouterJson.class)))
    @APIResponse(
            responseCode = "404",
            description = "No such router",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorResponse.class)))
    public RouterJson get(@PathParam("name") String name) {
        return json(routers.get(name));
    }

    @PUT
    @Path("/{name}")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Define or replace a router",
            description = "Candidates cheapest first (registered model names), their limits (maxPromptTokens,"
                    + " maxMaxTokens, maxComplexity), latency priors, tenant policies and the cascade; checked whole")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = RouterJson.class)))
    @APIResponse(
            responseCode = "400",
            description = "Invalid definition: no candidates, an unknown model, a router or the router itself as a"
                    + " candidate, a limit out of range",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorResponse.class)))
    public RouterJson define(@PathParam("name") String name, RouterSpec definition) {
        return json(routers.define(name, ApiException.requireBody(definition)));
    }

    @DELETE
    @Path("/{name}")
    @Operation(summary = "Remove a router", description = "Requests naming it get 404 model_not_found from then on")
    @APIResponse(responseCode = "204", description = "Removed")
    @APIResponse(
            responseCode = "404",
            description = "No such router",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorResponse.class)))
    public Response delete(@PathParam("name") String name) {
        routers.delete(name);
        return Response.noContent().build();
    }

    private RouterJson json(RouterAdmin.RouterInfo r) {
        List<CandidateJson> candidates = r.definition().candidates().stream()
                .map(c -> new CandidateJson(
                        c.model(),
                        c.maxPromptTokens(),
                        c.maxMaxTokens(),
                        c.maxComplexity(),
                        c.expectedTtftMs(),
                        c.expectedTpotMs(),
                        prices.pricePer1k(c.model(), "prompt"),
                        prices.pricePer1k(c.model(), "completion")))
                .toList();
        return new RouterJson(
                r.name(),
                candidates,
                r.definition().tenants(),
                r.definition().cascade(),
                r.createdAt(),
                r.updatedAt(),
                r.updatedBy());
    }
}
