package dev.anvil.api.openai;

import dev.anvil.api.ApiErrors;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;

/**
 * The server's open SSE streams: a bound on how many may be open at once ({@value OpenAiConfig#MAX_OPEN_STREAMS};
 * beyond it a new stream is a 503 before anything is generated), and a write timeout
 * ({@value OpenAiConfig#STREAM_WRITE_TIMEOUT_SECONDS}) that cuts a client that stopped reading.
 *
 * <p>Why a watchdog: a client that stops reading fills its TCP window and the server's send buffer, and then the
 * writer's next blocking write waits forever (Undertow has no write timeout unless the listener is given one, which
 * would apply to every response). Each stream marks when a write starts and ends; a watchdog (one virtual thread of
 * its own, not the container's managed scheduler: that one refuses to run tasks, loudly, while the server suspends
 * for shutdown, when cutting stuck clients matters most) looks at the open streams a few times a second and cuts
 * those whose write has been in progress longer
 * than the timeout: the generation is cancelled (its KV blocks are freed at the next batching step), the
 * connection is closed and the blocked writer is interrupted, so the stream, its writer and its slots are given
 * back. Cuts are counted in {@code anvil_api_stream_write_timeouts_total}; open streams are
 * {@code anvil_api_streams_open}, refused ones {@code anvil_api_streams_refused_total}.
 */
@ApplicationScoped
public class OpenStreams {

    private static final Logger LOG = Logger.getLogger(OpenStreams.class.getName());
    /** How often the watchdog looks at the open streams. */
    static final long SCAN_INTERVAL_MS = 250;

    static final Metadata OPEN = Metadata.builder()
            .withName("anvil.api.streams.open")
            .withDescription("SSE streams being written now")
            .withUnit(MetricUnits.NONE)
            .build();
    static final Metadata WRITE_TIMEOUTS = Metadata.builder()
            .withName("anvil.api.stream.write.timeouts")
            .withDescription("Streams cut because a write to the client did not complete within "
                    + OpenAiConfig.STREAM_WRITE_TIMEOUT_SECONDS + " (the client stopped reading)")
            .withUnit(MetricUnits.NONE)
            .build();
    static final Metadata REFUSED = Metadata.builder()
            .withName("anvil.api.streams.refused")
            .withDescription("Stream requests refused because " + OpenAiConfig.MAX_OPEN_STREAMS + " streams were open")
            .withUnit(MetricUnits.NONE)
            .build();

    @Inject
    OpenAiConfig config;

    @Inject
    MetricRegistry metrics;

    /** The watchdog's thread; null in tests, which run {@link #scan} themselves. */
    ScheduledExecutorService scheduler;

    private final Set<Stream> open = ConcurrentHashMap.newKeySet();
    private final AtomicInteger count = new AtomicInteger();
    private final AtomicLong cuts = new AtomicLong();
    private final AtomicLong refusals = new AtomicLong();

    @PostConstruct
    void start() {
        if (metrics != null) {
            metrics.gauge(OPEN, count, AtomicInteger::get);
            metrics.counter(WRITE_TIMEOUTS);
            metrics.counter(REFUSED);
        }
        scheduler = Executors.newSingleThreadScheduledExecutor(
                Thread.ofVirtual().name("anvil-stream-watchdog").factory());
        scheduler.scheduleWithFixedDelay(this::scanNow, SCAN_INTERVAL_MS, SCAN_INTERVAL_MS, TimeUnit.MILLISECONDS);
    }

    private void scanNow() {
        try {
            scan(System.nanoTime());
        } catch (RuntimeException e) {
            // a failed scan must not end the watchdog (a scheduled task that throws is not run again)
            LOG.log(java.util.logging.Level.WARNING, "stream watchdog scan failed", e);
        }
    }

    /** Created with the application, so its metrics read 0 before the first stream and the watchdog runs. */
    void startWithTheApplication(
            @jakarta.enterprise.event.Observes @jakarta.enterprise.context.Initialized(ApplicationScoped.class)
                    Object application) {
        // observing the event is what instantiates the bean (its @PostConstruct does the rest)
    }

    @PreDestroy
    void stop() {
        if (scheduler != null) scheduler.shutdownNow();
    }

    /**
     * A place for one more open stream, taken before the generation is submitted; a 503 with {@code Retry-After}
     * when {@value OpenAiConfig#MAX_OPEN_STREAMS} are open. Give it back with {@link Stream#close()}.
     */
    Stream admit() {
        Stream stream = tryAdmit();
        if (stream == null) {
            throw new WebApplicationException(Response.fromResponse(ApiErrors.response(
                            503,
                            ApiErrors.TYPE_SERVICE_UNAVAILABLE,
                            "the server has " + count.get() + " streams open, its limit ("
                                    + OpenAiConfig.MAX_OPEN_STREAMS + "); retry shortly" + " or ask without 'stream'",
                            null,
                            "too_many_streams"))
                    .header("Retry-After", 1)
                    .build());
        }
        return stream;
    }

    /** A place for one more open stream, or null (counted as refused) when the bound is reached. */
    Stream tryAdmit() {
        int max = config.maxOpenStreams();
        while (true) {
            int now = count.get();
            if (max > 0 && now >= max) {
                refusals.incrementAndGet();
                if (metrics != null) metrics.counter(REFUSED).inc();
                return null;
            }
            if (count.compareAndSet(now, now + 1)) break;
        }
        Stream stream = new Stream();
        open.add(stream);
        return stream;
    }

    /** Cuts every open stream whose current write started more than the write timeout before {@code nowNanos}. */
    void scan(long nowNanos) {
        long timeout = TimeUnit.SECONDS.toNanos(config.streamWriteTimeoutSeconds());
        for (Stream s : open) {
            if (s.cutIfStuck(nowNanos, timeout)) {
                cuts.incrementAndGet();
                if (metrics != null) metrics.counter(WRITE_TIMEOUTS).inc();
                LOG.info(() -> "stream " + s.id + " cut: a write to its client did not complete within "
                        + config.streamWriteTimeoutSeconds() + " s (" + OpenAiConfig.STREAM_WRITE_TIMEOUT_SECONDS
                        + ")");
            }
        }
    }

    /** Streams open now. */
    int openCount() {
        return count.get();
    }

    /** Streams cut for a stuck write since start. */
    long cutCount() {
        return cuts.get();
    }

    /** Stream requests refused for the bound since start. */
    long refusedCount() {
        return refusals.get();
    }

    /** One open stream: its write in progress (if any), and what cutting it does. */
    final class Stream {
        private final AtomicBoolean closed = new AtomicBoolean();
        private final AtomicBoolean cut = new AtomicBoolean();
        /** System.nanoTime() when the write in progress started; 0 while no write is in progress. */
        private volatile long writingSince;

        private volatile Thread writer;
        private volatile Runnable onCut = () -> {};
        private volatile String id = "(not started)";

        /** What cutting does besides interrupting the writer: cancel the generation, close the connection. */
        void onCut(String responseId, Runnable action) {
            this.id = responseId;
            this.onCut = action;
        }

        /** {@code out} with every write and flush timed by the watchdog. */
        OutputStream watch(OutputStream out) {
            return new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    begin();
                    try {
                        out.write(b);
                    } finally {
                        end();
                    }
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    begin();
                    try {
                        out.write(b, off, len);
                    } finally {
                        end();
                    }
                }

                @Override
                public void flush() throws IOException {
                    begin();
                    try {
                        out.flush();
                    } finally {
                        end();
                    }
                }

                @Override
                public void close() throws IOException {
                    begin();
                    try {
                        out.close();
                    } finally {
                        end();
                    }
                }
            };
        }

        private void begin() throws IOException {
            if (cut.get()) throw new IOException("stream " + id + " was cut: its client stopped reading");
            writer = Thread.currentThread();
            long now = System.nanoTime();
            writingSince = now == 0 ? 1 : now;
        }

        private void end() {
            writingSince = 0;
        }

        /** Whether the watchdog cut this stream. */
        boolean wasCut() {
            return cut.get();
        }

        boolean cutIfStuck(long nowNanos, long timeoutNanos) {
            long since = writingSince;
            if (since == 0 || nowNanos - since <= timeoutNanos || !cut.compareAndSet(false, true)) {
                return false;
            }
            // First the writer (a blocking socket write waits in an interruptible select): it ends the stream and
            // clears its interrupt; then the generation and the connection, which the client shall see closed.
            Thread blocked = writer;
            if (blocked != null) blocked.interrupt();
            onCut.run();
            return true;
        }

        /** Gives the place back (once; later calls do nothing). */
        void close() {
            if (closed.compareAndSet(false, true)) {
                open.remove(this);
                count.decrementAndGet();
            }
        }
    }
}
