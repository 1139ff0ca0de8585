package dev.anvil.api.metrics;

import dev.anvil.api.ApiErrors;
import io.smallrye.metrics.SharedMetricRegistries;
import io.smallrye.metrics.exporters.PrometheusMetricsExporter;
import jakarta.annotation.security.PermitAll;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.annotation.RegistryScope;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * MicroProfile Metrics 5.1 endpoint in Prometheus text format. WildFly 39 has no MicroProfile Metrics
 * subsystem, so SmallRye Metrics (Micrometer-backed, bundled in the EAR lib/) holds the registries and
 * this resource exposes them, following the specification's {@code ?scope=} and {@code &name=} filters.
 */
@Path("/metrics")
@PermitAll
@ApplicationScoped
@Tag(name = "operations")
public class MetricsResource {

    static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

    /**
     * Injecting the base registry makes SmallRye register the JVM (base) metrics; injecting the vendor
     * registry creates the scope so it is listed even while empty.
     */
    @Inject
    @RegistryScope(scope = MetricRegistry.BASE_SCOPE)
    MetricRegistry baseRegistry;

    @Inject
    @RegistryScope(scope = MetricRegistry.VENDOR_SCOPE)
    MetricRegistry vendorRegistry;

    @GET
    @Produces({PROMETHEUS_TEXT, "text/plain"})
    @Operation(summary = "Metrics in Prometheus text format (base = JVM, vendor, application scopes)")
    @APIResponse(
            responseCode = "200",
            description = "Prometheus exposition text",
            content =
                    @Content(
                            mediaType = "text/plain",
                            schema =
                                    @Schema(
                                            type =
                                                    org.eclipse.microprofile.openapi.annotations.enums.SchemaType
                                                            .STRING)))
    @APIResponse(
            responseCode = "404",
            description = "Unknown scope or metric name",
            content =
                    @Content(
                            mediaType = "application/json",
                            schema = @Schema(implementation = dev.anvil.api.ErrorResponse.class)))
    public Response metrics(
            @Parameter(description = "Restrict to one scope: base, vendor, application or a custom scope")
                    @QueryParam("scope")
                    String scope,
            @Parameter(description = "Restrict to one metric name (requires no scope or a scope)") @QueryParam("name")
                    String name) {
        // Touch the injected registries so the CDI producers (and base metric registration) have run.
        baseRegistry.getNames();
        vendorRegistry.getNames();
        PrometheusMetricsExporter exporter = new PrometheusMetricsExporter();
        String body;
        if (scope != null && !scope.isBlank()) {
            if (!SharedMetricRegistries.doesScopeExist(scope)) {
                return ApiErrors.response(
                        404,
                        ApiErrors.TYPE_INVALID_REQUEST,
                        "Unknown metrics scope '" + scope + "'; known scopes: "
                                + SharedMetricRegistries.getRegistryScopeNames(),
                        "scope",
                        "unknown_scope");
            }
            body = name == null || name.isBlank()
                    ? exporter.exportOneScope(scope)
                    : exporter.exportMetricsByName(scope, name);
        } else if (name != null && !name.isBlank()) {
            body = exporter.exportOneMetricAcrossScopes(name);
        } else {
            body = exporter.exportAllScopes();
        }
        if (name != null && !name.isBlank() && body.isBlank()) {
            return ApiErrors.response(
                    404, ApiErrors.TYPE_INVALID_REQUEST, "No metric named '" + name + "'", "name", "unknown_metric");
        }
        return Response.ok(body, PROMETHEUS_TEXT).build();
    }
}
