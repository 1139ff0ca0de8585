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
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;

/**
 * Server time of generation responses: every response that carries {@link ResponseCacheStage#HEADER} gets a
 * {@code Server-Timing: app;desc="cache <status>";dur=<ms>} header (wall time from this filter's request side to
 * the response headers: body parsing, tokenization, cache lookup and, for a plain hit, the JSON body), and the
 * time of cache hits is recorded in {@code anvil_cache_hit_time_seconds}. When the response is finished on the
 * thread that took the request (a plain hit), a second entry {@code cpu;dur=<ms>} gives that thread's CPU time
 * over the same span: the work a hit costs, which on a busy machine is far less than the wall time; and
 * {@code cache;desc="stage";dur=<ms>} is the response cache's own part (key derivation, lookup, replay). Runs first
 * on the way in and last on the way out, so the figures cover the other filters too.
 */
@Provider
@PreMatching
@Priority(Priorities.AUTHENTICATION - 500)
@ApplicationScoped
public class CacheServerTimingFilter implements ContainerRequestFilter, ContainerResponseFilter {

    private static final String START = CacheServerTimingFilter.class.getName() + ".start";
    private static final String START_CPU = CacheServerTimingFilter.class.getName() + ".cpu";
    private static final String START_THREAD = CacheServerTimingFilter.class.getName() + ".thread";
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    @Inject
    ResponseCacheMetrics metrics;

    @Override
    public void filter(ContainerRequestContext request) {
        request.setProperty(START, System.nanoTime());
        if (THREADS.isCurrentThreadCpuTimeSupported()) {
            request.setProperty(START_THREAD, Thread.currentThread());
            request.setProperty(START_CPU, THREADS.getCurrentThreadCpuTime());
        }
    }

    @Override
    public void filter(ContainerRequestContext request, ContainerResponseContext response) {
        Object status = response.getHeaders().getFirst(ResponseCacheStage.HEADER);
        if (status == null || !(request.getProperty(START) instanceof Long start)) return;
        long nanos = System.nanoTime() - start;
        // Built by hand: String.format was a visible share of a cache hit's few hundred microseconds.
        StringBuilder timing =
                new StringBuilder(96).append("app;desc=\"cache ").append(status).append("\";dur=");
        millis(timing, nanos);
        if (request.getProperty(START_THREAD) == Thread.currentThread()
                && request.getProperty(START_CPU) instanceof Long cpu) {
            millis(timing.append(", cpu;dur="), THREADS.getCurrentThreadCpuTime() - cpu);
        }
        if (request.getProperty(ResponseCacheStage.STAGE_NANOS) instanceof Long stage) {
            millis(timing.append(", cache;desc=\"stage\";dur="), stage);
        }
        response.getHeaders().add("Server-Timing", timing.toString());
        if ("hit".equals(status)) metrics.hitTime(Duration.ofNanos(nanos));
    }

    /** Appends {@code nanos} as milliseconds with three decimals (microsecond resolution), e.g. {@code 0.412}. */
    static void millis(StringBuilder out, long nanos) {
        long micros = Math.max(0, (nanos + 500) / 1000);
        out.append(micros / 1000).append('.');
        long frac = micros % 1000;
        if (frac < 100) out.append('0');
        if (frac < 10) out.append('0');
        out.append(frac);
    }
}
