package dev.anvil.api.metrics;

import dev.anvil.api.EndpointTemplate;
import dev.anvil.api.WebApiConfig;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ContainerResponseFilter;
import jakarta.ws.rs.container.PreMatching;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.ext.Provider;
import java.time.Duration;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;
import org.eclipse.microprofile.metrics.Tag;

/**
 * Times every API request into the application metric {@code anvil.http.requests} (Prometheus:
 * {@code anvil_http_requests_seconds_*}), tagged by HTTP method, endpoint template (never the raw path,
 * which would explode cardinality with ids) and status code.
 */
@Provider
@PreMatching
@jakarta.enterprise.context.ApplicationScoped
public class HttpRequestMetricsFilter implements ContainerRequestFilter, ContainerResponseFilter {

    public static final String METRIC_NAME = "anvil.http.requests";
    private static final String START_PROPERTY = HttpRequestMetricsFilter.class.getName() + ".start";
    private static final Metadata METADATA = Metadata.builder()
            .withName(METRIC_NAME)
            .withDescription("Duration of HTTP API requests by method, endpoint template and status")
            .withUnit(MetricUnits.SECONDS)
            .build();

    @Inject
    MetricRegistry registry;

    @Inject
    WebApiConfig config;

    @Context
    ResourceInfo resourceInfo;

    @Override
    public void filter(ContainerRequestContext request) {
        request.setProperty(START_PROPERTY, System.nanoTime());
    }

    @Override
    public void filter(ContainerRequestContext request, ContainerResponseContext response) {
        if (!(request.getProperty(START_PROPERTY) instanceof Long start) || !config.httpMetricsEnabled()) {
            return;
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
        registry.timer(
                        METADATA,
                        new Tag("method", request.getMethod()),
                        new Tag("endpoint", EndpointTemplate.of(resourceInfo)),
                        new Tag("status", Integer.toString(response.getStatus())))
                .update(elapsed);
    }
}
