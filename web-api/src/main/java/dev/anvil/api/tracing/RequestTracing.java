package dev.anvil.api.tracing;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The spans Anvil adds to a request's trace (OpenTelemetry through WildFly's MicroProfile Telemetry, which makes the
 * server span of every JAX-RS request and reads an incoming W3C {@code traceparent}). Stages that run on the request
 * thread get a span around them ({@link #inSpan}); phases that happen on the batching thread (queue wait, prefill,
 * decode) are drawn afterwards from the {@link System#nanoTime()} marks the generation keeps ({@link #finished}).
 * With the SDK off (the default: {@code otel.sdk.disabled=true}) every call is a no-op span.
 */
@ApplicationScoped
public class RequestTracing {

    /** Response header with the trace id of the request, so a client can find its trace. */
    public static final String TRACE_HEADER = "X-Anvil-Trace-Id";

    /** Wall clock and {@code nanoTime} read together once, to place nanoTime marks on the epoch time line. */
    private static final long EPOCH_NANOS_AT_ANCHOR = TimeUnit.MILLISECONDS.toNanos(System.currentTimeMillis());

    private static final long NANO_TIME_AT_ANCHOR = System.nanoTime();

    @Inject
    Instance<Tracer> tracers;

    private volatile Tracer tracer;

    private Tracer tracer() {
        Tracer t = tracer;
        if (t == null) {
            t = tracers != null && tracers.isResolvable()
                    ? tracers.get()
                    : OpenTelemetry.noop().getTracer("anvil"); // outside a container with MicroProfile Telemetry
            tracer = t;
        }
        return t;
    }

    /** Runs {@code body} in a span {@code name}, a child of the current one; a thrown exception marks it failed. */
    public <T> T inSpan(String name, Supplier<T> body) {
        Span span = tracer().spanBuilder(name).startSpan();
        try (Scope ignored = span.makeCurrent()) {
            return body.get();
        } catch (RuntimeException e) {
            span.setStatus(
                    StatusCode.ERROR, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
            throw e;
        } finally {
            span.end();
        }
    }

    /** {@link #inSpan(String, Supplier)} under {@code parent} (a stage that runs on another thread than the request). */
    public <T> T inSpan(Context parent, String name, Supplier<T> body) {
        if (parent == null) return inSpan(name, body);
        try (Scope ignored = parent.makeCurrent()) {
            return inSpan(name, body);
        }
    }

    /** {@link #inSpan(String, Supplier)} for a stage without a result. */
    public void inSpan(String name, Runnable body) {
        inSpan(name, () -> {
            body.run();
            return null;
        });
    }

    /** The context whose span the later {@link #finished} spans hang under (the request's). */
    public Context current() {
        return Context.current();
    }

    /**
     * Records a span that has already happened: from {@code startNanos} to {@code endNanos} ({@link System#nanoTime()}
     * marks), under {@code parent}. Nothing when either mark is missing (0) or they are out of order.
     */
    public void finished(Context parent, String name, long startNanos, long endNanos, Attributes attributes) {
        if (startNanos == 0 || endNanos == 0 || endNanos < startNanos) return;
        Span span = tracer().spanBuilder(name)
                .setParent(parent)
                .setStartTimestamp(epochNanos(startNanos), TimeUnit.NANOSECONDS)
                .setAllAttributes(attributes)
                .startSpan();
        span.end(epochNanos(endNanos), TimeUnit.NANOSECONDS);
    }

    /** The current trace's id (32 hex digits), or null when there is no sampled trace (tracing off). */
    public String traceId() {
        return traceId(Context.current());
    }

    /** The trace id of {@code context}'s span, or null when there is none (no context, tracing off). */
    public static String traceId(Context context) {
        SpanContext c = context == null
                ? SpanContext.getInvalid()
                : Span.fromContext(context).getSpanContext();
        return c.isValid() ? c.getTraceId() : null;
    }

    /** The log context key of a request's trace id ({@code %X{trace_id}} in the server's log patterns). */
    public static final String LOG_KEY = "trace_id";

    /**
     * Puts {@code context}'s trace id in the log context of this thread until the returned handle is closed, so that
     * what is logged meanwhile names the trace; a no-op without a trace.
     */
    public static LogContext logContext(Context context) {
        String traceId = traceId(context);
        if (traceId == null) return () -> {};
        Object previous = org.jboss.logging.MDC.put(LOG_KEY, traceId);
        return () -> {
            if (previous == null) org.jboss.logging.MDC.remove(LOG_KEY);
            else org.jboss.logging.MDC.put(LOG_KEY, previous);
        };
    }

    /** A log context to end. */
    public interface LogContext extends AutoCloseable {
        @Override
        void close();
    }

    static long epochNanos(long nanoTime) {
        return EPOCH_NANOS_AT_ANCHOR + (nanoTime - NANO_TIME_AT_ANCHOR);
    }
}
