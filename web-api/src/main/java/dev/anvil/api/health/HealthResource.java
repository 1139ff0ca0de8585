package dev.anvil.api.health;

import jakarta.annotation.security.PermitAll;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Any;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.util.AnnotationLiteral;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;
import org.eclipse.microprofile.health.Startup;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * MicroProfile Health probes on the application port (8080), where load balancers and orchestrators call.
 * WildFly's health subsystem serves the same checks on the management port only, and it vetoes the
 * SmallRye reporter bean inside deployments, so this resource evaluates the very same CDI
 * {@link HealthCheck} beans (every {@code @Liveness}/{@code @Readiness}/{@code @Startup} bean of the EAR)
 * and renders the MicroProfile Health JSON format: 200 when all are UP, 503 otherwise.
 */
@Path("/health")
@PermitAll
@Produces(MediaType.APPLICATION_JSON)
@ApplicationScoped
@Tag(name = "operations")
public class HealthResource {

    private static final Logger LOG = Logger.getLogger(HealthResource.class.getName());

    @Inject
    @Any
    Instance<HealthCheck> checks;

    @GET
    @Operation(summary = "All health checks (liveness, readiness and startup)")
    @APIResponse(
            responseCode = "200",
            description = "Every check is UP",
            content = @Content(schema = @Schema(implementation = HealthReport.class)))
    @APIResponse(
            responseCode = "503",
            description = "At least one check is DOWN",
            content = @Content(schema = @Schema(implementation = HealthReport.class)))
    public Response all() {
        Map<HealthCheck, Boolean> unique = new IdentityHashMap<>();
        List<HealthCheck> selected = new ArrayList<>();
        for (AnnotationLiteral<?> kind :
                List.of(Liveness.Literal.INSTANCE, Readiness.Literal.INSTANCE, Startup.Literal.INSTANCE)) {
            for (HealthCheck check : checks.select(kind)) {
                // A check may be both @Readiness and @Startup; report it once.
                if (unique.put(check, Boolean.TRUE) == null) {
                    selected.add(check);
                }
            }
        }
        return report(selected);
    }

    @GET
    @Path("/live")
    @Operation(summary = "Liveness: the server process works (restart it if DOWN)")
    @APIResponse(
            responseCode = "200",
            description = "Live",
            content = @Content(schema = @Schema(implementation = HealthReport.class)))
    @APIResponse(
            responseCode = "503",
            description = "Not live",
            content = @Content(schema = @Schema(implementation = HealthReport.class)))
    public Response live() {
        return report(checks.select(Liveness.Literal.INSTANCE));
    }

    @GET
    @Path("/ready")
    @Operation(summary = "Readiness: database reachable and registry schema migrated (route traffic if UP)")
    @APIResponse(
            responseCode = "200",
            description = "Ready",
            content = @Content(schema = @Schema(implementation = HealthReport.class)))
    @APIResponse(
            responseCode = "503",
            description = "Not ready",
            content = @Content(schema = @Schema(implementation = HealthReport.class)))
    public Response ready() {
        return report(checks.select(Readiness.Literal.INSTANCE));
    }

    @GET
    @Path("/started")
    @Operation(summary = "Startup: the application finished starting")
    @APIResponse(
            responseCode = "200",
            description = "Started",
            content = @Content(schema = @Schema(implementation = HealthReport.class)))
    @APIResponse(
            responseCode = "503",
            description = "Still starting or failed to start",
            content = @Content(schema = @Schema(implementation = HealthReport.class)))
    public Response started() {
        return report(checks.select(Startup.Literal.INSTANCE));
    }

    private Response report(Iterable<HealthCheck> selected) {
        List<HealthReport.CheckResult> results = new ArrayList<>();
        for (HealthCheck check : selected) {
            results.add(evaluate(check));
        }
        results.sort(Comparator.comparing(HealthReport.CheckResult::name));
        boolean up = results.stream().allMatch(result -> "UP".equals(result.status()));
        HealthReport report = new HealthReport(up ? "UP" : "DOWN", results);
        return Response.status(up ? 200 : 503)
                .type(MediaType.APPLICATION_JSON_TYPE)
                .entity(report)
                .build();
    }

    /** A check that throws counts as DOWN, as the MicroProfile Health specification requires. */
    private static HealthReport.CheckResult evaluate(HealthCheck check) {
        try {
            HealthCheckResponse response = check.call();
            Map<String, Object> data =
                    response.getData().<Map<String, Object>>map(TreeMap::new).orElse(null);
            return new HealthReport.CheckResult(
                    response.getName(), response.getStatus().name(), data);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "Health check " + check.getClass().getName() + " failed", e);
            Map<String, Object> data = new LinkedHashMap<>();
            data.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
            return new HealthReport.CheckResult(check.getClass().getSimpleName(), "DOWN", data);
        }
    }
}
