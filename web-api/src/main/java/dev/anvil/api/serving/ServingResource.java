package dev.anvil.api.serving;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiException;
import dev.anvil.api.ErrorResponse;
import dev.anvil.registry.ModelRegistry;
import dev.anvil.registry.RegistryException;
import dev.anvil.security.Roles;
import dev.anvil.serving.ModelRuntimes;
import dev.anvil.serving.series.ServingTimeSeries;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * Live serving state for administrators: what this server has loaded and how it served in the last minutes, from the
 * in-memory {@link ServingTimeSeries} (the admin console's overview draws it; no Prometheus needed).
 */
@Path("/api/serving")
@RolesAllowed(Roles.ADMIN)
@SecurityRequirement(name = AnvilApplication.ADMIN_SECURITY)
@RequestScoped
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "serving", description = "Live serving state of this server's loaded model versions")
public class ServingResource {

    @Inject
    ServingTimeSeries series;

    @EJB
    ModelRegistry registry;

    @EJB
    ModelRuntimes runtimes;

    @GET
    @Path("/versions")
    @Operation(
            summary = "Loaded versions and their recent time series",
            description = "Every model version loaded on this server (the node answering): registry stage, runtime"
                    + " state, and one sample per interval (anvil.serving.timeseries.interval-seconds) of throughput,"
                    + " TTFT and time-per-output-token percentiles, error and 503 rates, queue, batch, KV blocks and"
                    + " breaker state, for the last anvil.serving.timeseries.window-seconds. Poll with `since` (the"
                    + " newest `at` you have) to get only newer samples. `loads` lists the loads in progress (phase,"
                    + " bytes of weights read) and those finished in the last minutes.")
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ServingJson.Overview.class)))
    @APIResponse(
            responseCode = "400",
            description = "`since` is not a number of epoch milliseconds",
            content = @Content(schema = @Schema(implementation = ErrorResponse.class)))
    public ServingJson.Overview versions(
            @Parameter(description = "Only samples taken after this time (epoch milliseconds)") @QueryParam("since")
                    String since) {
        long after = since(since);
        return new ServingJson.Overview(
                System.currentTimeMillis(),
                series.intervalSeconds(),
                series.windowSeconds(),
                runtimes.loads().stream().map(ServingJson.Load::of).toList(),
                series.versions().stream()
                        .map(v -> ServingJson.Version.of(v, stage(v.model(), v.version()), after))
                        .toList());
    }

    private static long since(String since) {
        if (since == null || since.isEmpty()) return Long.MIN_VALUE;
        try {
            return Long.parseLong(since);
        } catch (NumberFormatException e) {
            throw ApiException.badRequest(
                    "since must be epoch milliseconds (an integer), got '"
                            + (since.length() > 40 ? since.substring(0, 40) + "..." : since) + "'",
                    "since");
        }
    }

    private String stage(String model, String version) {
        try {
            return registry.getVersion(model, version).stage().name();
        } catch (RegistryException e) {
            return null; // unloaded meanwhile, or the database is down: the live state is still worth showing
        }
    }
}
