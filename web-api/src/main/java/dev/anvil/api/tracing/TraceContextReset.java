package dev.anvil.api.tracing;

import io.opentelemetry.context.Context;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.annotation.WebFilter;
import java.io.IOException;

/**
 * Starts every request on a thread whose OpenTelemetry context is empty. The JAX-RS server span is made current in
 * the request filter and its scope closed in the response filter; for an asynchronous response (every {@code /v1}
 * generation) that runs on the thread that resumes it, so the request thread keeps the finished request's span as its
 * current context, and the next request on that thread would become its child: a stranger's trace. Servlet filters
 * run before JAX-RS, so resetting here gives each request only its own {@code traceparent} as parent.
 */
@WebFilter(urlPatterns = "/*", asyncSupported = true)
public class TraceContextReset implements Filter {

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        // The returned scope is deliberately not closed: closing would restore the stale context this removes.
        @SuppressWarnings({"resource", "unused"})
        var reset = Context.root().makeCurrent();
        chain.doFilter(request, response);
    }
}
