package dev.anvil.api.openai;

import dev.anvil.cache.ResponseCacheMetrics;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.Priorities;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ContainerResponseFilter;
import jakarta.ws.rs.container.PreMatching;
import jakarta.ws.rs.ext.Provider;
import java.time.Duration;
import java.util.Locale;

/**
 * Server time of generation responses: every response that carries {@link ResponseCacheStage#HEADER} gets a
 * {@code Server-Timing: app;desc="cache <status>";dur=<ms>} header (from this filter's request side to the
 * response headers: body parsing, tokenization, cache lookup and, for a plain hit, the JSON body), and the
 * time of cache hits is recorded in {@code anvil_cache_hit_time_seconds}. Runs first on the way in and last on
 * the way out, so the figure covers the other filters too.
 */
@Provider
@PreMatching
@Priority(Priorities.AUTHENTICATION - 500)
@ApplicationScoped
public class CacheServerTimingFilter implements ContainerRequestFilter, ContainerResponseFilter {

    private static final String START = CacheServerTimingFilter.class.getName() + ".start";

    @Inject
    ResponseCacheMetrics metrics;

    @Override
    public void filter(ContainerRequestContext request) {
        request.setProperty(START, System.nanoTime());
    }

    @Override
    public void filter(ContainerRequestContext request, ContainerResponseContext response) {
        Object status = response.getHeaders().getFirst(ResponseCacheStage.HEADER);
        if (status == null || !(request.getProperty(START) instanceof Long start)) return;
        long nanos = System.nanoTime() - start;
        response.getHeaders().add("Server-Timing",
                String.format(Locale.ROOT, "app;desc=\"cache %s\";dur=%.3f", status, nanos / 1e6));
        if ("hit".equals(status)) metrics.hitTime(Duration.ofNanos(nanos));
    }
}
