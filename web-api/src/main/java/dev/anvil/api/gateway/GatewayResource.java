package dev.anvil.api.gateway;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiException;
import dev.anvil.api.ErrorResponse;
import dev.anvil.gateway.GatewayAdmin;
import dev.anvil.gateway.GatewayLedger;
import dev.anvil.gateway.UsageReport;
import dev.anvil.security.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * Gateway administration: tenants, their API keys, the usage report and the audit log. Thin: rules live in
 * {@link GatewayAdmin} and the entities; the caller is an admin (checked on the invoked
 * method by {@link dev.anvil.api.security.AccessControlFeature}, and again by the EJBs) and is recorded as the actor
 * of every change.
 */
@Path("/api/gateway")
@RolesAllowed(Roles.ADMIN)
@SecurityRequirement(name = AnvilApplication.ADMIN_SECURITY)
@RequestScoped
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "gateway", description = "API keys, tenants, budgets, usage and audit (role anvil-admin)")
public class GatewayResource {

    @EJB
    GatewayAdmin admin;

    @EJB
    UsageReport report;

    @EJB
    GatewayLedger ledger;

    @Context
    UriInfo uriInfo;

    @POST
    @Path("/tenants")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Create a tenant")
    @APIResponse(
            responseCode = "201",
            content = @Content(schema = @Schema(implementation = GatewayJson.TenantJson.class)))
    @APIResponse(
            responseCode = "409",
            description = "A tenant with this name exists",
            content = @Content(schema = @Schema(implementation = ErrorResponse.class)))
    public Response createTenant(GatewayJson.TenantRequest request) {
        GatewayJson.TenantRequest r = ApiException.requireBody(request);
        GatewayJson.TenantJson created = GatewayJson.TenantJson.of(admin.createTenant(r.name(), settings(r)));
        return Response.created(uriInfo.getBaseUriBuilder()
                        .path("api/gateway/tenants")
                        .path(created.name())
                        .build())
                .entity(created)
                .build();
    }

    @GET
    @Path("/tenants")
    @Operation(summary = "List tenants")
    public GatewayJson.Tenants tenants() {
        return new GatewayJson.Tenants(
                admin.tenants().stream().map(GatewayJson.TenantJson::of).toList());
    }

    @GET
    @Path("/tenants/{tenant}")
    @Operation(summary = "Get a tenant")
    public GatewayJson.TenantJson tenant(@PathParam("tenant") String tenant) {
        return GatewayJson.TenantJson.of(admin.tenant(tenant));
    }

    @PUT
    @Path("/tenants/{tenant}")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Reconfigure a tenant",
            description = "Replaces budget, period, limits (rates, concurrent requests),"
                    + " audit-text and version pinning; the name stays")
    public GatewayJson.TenantJson updateTenant(@PathParam("tenant") String tenant, GatewayJson.TenantRequest request) {
        GatewayJson.TenantRequest r = ApiException.requireBody(request);
        return GatewayJson.TenantJson.of(admin.updateTenant(tenant, settings(r)));
    }

    @POST
    @Path("/tenants/{tenant}/keys")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Create an API key",
            description = "The response carries the secret (`key`) once; only its hash is stored")
    @APIResponse(responseCode = "201", content = @Content(schema = @Schema(implementation = GatewayJson.KeyJson.class)))
    public Response createKey(@PathParam("tenant") String tenant, GatewayJson.KeyRequest request) {
        GatewayJson.KeyRequest r = ApiException.requireBody(request);
        GatewayAdmin.CreatedKey created = admin.createKey(
                tenant,
                r.name(),
                new GatewayAdmin.KeySettings(
                        r.allowedModels(),
                        r.requestsPerMinute(),
                        r.tokensPerMinute(),
                        r.maxConcurrentRequests(),
                        r.allowVersionPinning()));
        return Response.created(uriInfo.getBaseUriBuilder()
                        .path("api/gateway/keys")
                        .path(created.key().id().toString())
                        .build())
                .entity(GatewayJson.KeyJson.of(created.key(), created.secret()))
                .header("Cache-Control", "no-store")
                .build();
    }

    @GET
    @Path("/tenants/{tenant}/keys")
    @Operation(summary = "List a tenant's API keys", description = "Prefixes only; secrets are never shown again")
    public GatewayJson.Keys keys(@PathParam("tenant") String tenant) {
        return new GatewayJson.Keys(admin.keys(tenant).stream()
                .map(k -> GatewayJson.KeyJson.of(k, null))
                .toList());
    }

    @DELETE
    @Path("/keys/{id}")
    @Operation(summary = "Revoke an API key", description = "Permanent; requests with it get 401 from then on")
    public GatewayJson.KeyJson revokeKey(@PathParam("id") long id) {
        return GatewayJson.KeyJson.of(admin.revokeKey(id), null);
    }

    @GET
    @Path("/usage")
    @Operation(
            summary = "Usage report",
            description = "Requests, tokens and cost by UTC day, tenant and model, and each cost-aware router's"
                    + " savings against sending everything to its largest candidate; default: today")
    public GatewayJson.Usage usage(
            @QueryParam("from") String from,
            @QueryParam("to") String to,
            @QueryParam("tenant") String tenant,
            @QueryParam("model") String model) {
        LocalDate today = LocalDate.now(ZoneOffset.UTC);
        LocalDate toDay = day(to, "to", today);
        LocalDate fromDay = day(from, "from", toDay);
        ledger.flush(); // rows still queued belong in the report
        return new GatewayJson.Usage(
                fromDay,
                toDay,
                report.byTenantModelDay(fromDay, toDay, blankToNull(tenant), blankToNull(model)).stream()
                        .map(GatewayJson.UsageLine::of)
                        .toList(),
                report.routerSavings(fromDay, toDay, blankToNull(tenant)).stream()
                        .map(GatewayJson.RouterSavings::of)
                        .toList());
    }

    @GET
    @Path("/audit")
    @Operation(
            summary = "Audit log",
            description = "Newest first; filter by actor (user name or key:PREFIX), tenant, action. Page with"
                    + " `before`: the next page is the rows before the last `id` of this one")
    public GatewayJson.Audit audit(
            @QueryParam("actor") String actor,
            @QueryParam("tenant") String tenant,
            @QueryParam("action") String action,
            @Parameter(description = "Only rows with an id below this one (the next page)") @QueryParam("before")
                    String before,
            @QueryParam("limit") @DefaultValue("100") int limit) {
        ledger.flush();
        return new GatewayJson.Audit(
                report
                        .audit(blankToNull(actor), blankToNull(tenant), blankToNull(action), beforeId(before), limit)
                        .stream()
                        .map(GatewayJson.AuditJson::of)
                        .toList());
    }

    private static Long beforeId(String before) {
        if (before == null || before.isBlank()) return null;
        try {
            return Long.parseLong(before.strip());
        } catch (NumberFormatException e) {
            throw ApiException.badRequest(
                    "before must be an audit row id (an integer), got '"
                            + (before.length() > 40 ? before.substring(0, 40) + "..." : before) + "'",
                    "before");
        }
    }

    private static GatewayAdmin.TenantSettings settings(GatewayJson.TenantRequest r) {
        return new GatewayAdmin.TenantSettings(
                r.tokenBudget(),
                r.budgetPeriod(),
                r.requestsPerMinute(),
                r.tokensPerMinute(),
                Boolean.TRUE.equals(r.auditText()),
                r.maxConcurrentRequests(),
                Boolean.TRUE.equals(r.allowVersionPinning()));
    }

    private static LocalDate day(String text, String param, LocalDate fallback) {
        if (text == null || text.isBlank()) {
            return fallback;
        }
        try {
            return LocalDate.parse(text.strip());
        } catch (DateTimeParseException e) {
            throw ApiException.badRequest(param + " must be a date like 2026-01-31, got '" + text + "'", param);
        }
    }

    private static String blankToNull(String text) {
        return text == null || text.isBlank() ? null : text.strip();
    }
}
