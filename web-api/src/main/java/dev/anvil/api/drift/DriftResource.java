package dev.anvil.api.drift;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiException;
import dev.anvil.api.ErrorResponse;
import dev.anvil.drift.DriftConfig;
import dev.anvil.drift.DriftMonitor;
import dev.anvil.drift.VersionDrift;
import dev.anvil.registry.domain.VersionEvent;
import dev.anvil.security.Callers;
import dev.anvil.security.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.SecurityContext;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/** Drift detection API, for administrators: thin over {@link DriftMonitor}. */
@Path("/api/drift")
@RolesAllowed(Roles.ADMIN)
@SecurityRequirement(name = AnvilApplication.ADMIN_SECURITY)
@RequestScoped
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "drift", description = "Drift of each served version's traffic against its reference window")
public class DriftResource {

    @Inject
    DriftMonitor drift;

    @Inject
    DriftConfig config;

    @Context
    SecurityContext security;

    @GET
    @Operation(
            summary = "Watched versions",
            description = "Every version observed since it was loaded, with the features that drifted")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = DriftJson.Summaries.class)))
    public DriftJson.Summaries list() {
        return DriftJson.Summaries.of(drift.reports());
    }

    @GET
    @Path("/{model}/{version}")
    @Operation(
            summary = "A version's drift",
            description = "Windows, PSI and KL per feature, and the histograms they compare (computed now)")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = DriftJson.Report.class)))
    @APIResponse(
            responseCode = "404",
            description = "The version has served nothing since it was loaded on this server",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorResponse.class)))
    public DriftJson.Report report(@PathParam("model") String model, @PathParam("version") String version) {
        return json(model, version, drift.report(model, version));
    }

    @POST
    @Path("/{model}/{version}/reference")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Pin the reference",
            description = "The current windows become the reference (the traffic of now is the normal one) and new "
                    + "current windows start; recorded in the version's history with the reason")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = DriftJson.Report.class)))
    @APIResponse(
            responseCode = "400",
            description = "Reason too long",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "404",
            description = "The version has served nothing since it was loaded on this server",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorResponse.class)))
    public DriftJson.Report pin(
            @PathParam("model") String model, @PathParam("version") String version, DriftJson.Pin request) {
        String reason =
                request == null || request.reason() == null || request.reason().isBlank()
                        ? null
                        : request.reason().strip();
        int room = VersionEvent.MAX_DETAIL - 100; // what the event's own wording leaves
        if (reason != null && reason.length() > room) {
            throw ApiException.badRequest("'reason' is longer than " + room + " characters", "reason");
        }
        if (!drift.pinReference(model, version, Callers.actor(security.getUserPrincipal()), reason)) {
            throw notObserved(model, version);
        }
        return json(model, version, drift.report(model, version));
    }

    private DriftJson.Report json(String model, String version, VersionDrift.Report r) {
        if (r == null) throw notObserved(model, version);
        return new DriftJson.Report(
                model,
                version,
                r.referenceSince(),
                new DriftJson.Thresholds(
                        config.psiThreshold(),
                        config.klThreshold(),
                        config.minSamples(),
                        config.referenceSize(),
                        config.windowSize()),
                r.features().stream().map(DriftJson.Feature::of).toList());
    }

    private static ApiException notObserved(String model, String version) {
        return ApiException.notFound(
                model + "@" + version + " has served no request since it was loaded on this server: drift is "
                        + "measured on the traffic of loaded versions",
                "version",
                "version_not_observed");
    }
}
