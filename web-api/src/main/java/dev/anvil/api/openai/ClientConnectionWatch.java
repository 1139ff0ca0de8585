package dev.anvil.api.openai;

import io.undertow.connector.PooledByteBuffer;
import io.undertow.server.AbstractServerConnection;
import io.undertow.server.HttpServerExchange;
import io.undertow.server.protocol.http.HttpServerConnection;
import io.undertow.servlet.handlers.ServletRequestContext;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Notices that the client of a suspended, not-yet-answered HTTP/1.1 request has gone away.
 *
 * <p>Why this exists: a streamed answer finds out at its next write, but a plain JSON answer writes nothing until
 * the generation is over, and Undertow neither reads an idle connection during an async request nor tells
 * {@code AsyncListener} when the peer closes it. So the watch asks the connection itself: on the connection's
 * own I/O thread (where Undertow reads it, so no conduit is touched from two threads) it does one non-blocking
 * read on the raw connection. End-of-stream or a reset means the client is gone. Zero bytes means it is still
 * there. Bytes mean a pipelined next request: they are handed back to Undertow as the connection's extra bytes
 * (what its own read-ahead does) and the watch stops, since the client is evidently alive.
 *
 * <p>It probes only while it is safe to read: the request body was read completely (else the bytes would be
 * this request's), the answer has not started ({@link #stop()} is called before the response is resumed, and a
 * probe holds the same lock while reading, so it can never take bytes of a request sent after the answer), and
 * the connection is HTTP/1.1 (an HTTP/2 stream is multiplexed: reading its connection is not ours to do; there a
 * disconnect ends the generation only at the request timeout).
 */
final class ClientConnectionWatch {

    private static final Logger LOG = Logger.getLogger(ClientConnectionWatch.class.getName());
    /** Probes at most this often per request: a disconnect is seen within a step or two at any decode speed. */
    private static final long MIN_PROBE_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    /** A watch for requests whose connection cannot be probed. */
    private static final ClientConnectionWatch NONE = new ClientConnectionWatch(null, null);

    private final HttpServerExchange exchange;
    private final AbstractServerConnection connection;
    private final Object lock = new Object();
    // Guarded by lock.
    private boolean stopped;
    private boolean probeQueued;
    private long lastProbeNanos = System.nanoTime() - MIN_PROBE_INTERVAL_NANOS;

    private ClientConnectionWatch(HttpServerExchange exchange, AbstractServerConnection connection) {
        this.exchange = exchange;
        this.connection = connection;
        this.stopped = connection == null;
    }

    /** The watch of the request being handled on this (request) thread; a no-op watch if it cannot be probed. */
    static ClientConnectionWatch ofCurrentRequest() {
        ServletRequestContext context = ServletRequestContext.current();
        if (context == null) return NONE;
        HttpServerExchange exchange = context.getExchange();
        return exchange != null && exchange.getConnection() instanceof HttpServerConnection http
                ? new ClientConnectionWatch(exchange, http)
                : NONE;
    }

    /**
     * What closes the connection of the request being handled on this (request) thread, captured now and safe to
     * run later from any thread (the stream watchdog cuts a client that stopped reading); a no-op when the request
     * has no Undertow connection.
     */
    static Runnable closerOfCurrentRequest() {
        ServletRequestContext context = ServletRequestContext.current();
        HttpServerExchange exchange = context == null ? null : context.getExchange();
        if (exchange == null || exchange.getConnection() == null) return () -> {};
        io.undertow.server.ServerConnection connection = exchange.getConnection();
        return () -> {
            try {
                connection.close();
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.FINE, "closing the connection of " + connection.getPeerAddress() + " failed", e);
            }
        };
    }

    /**
     * Queues a probe on the connection's I/O thread unless one is queued or ran within the last 20 ms; runs
     * {@code onGone} (on the I/O thread) if the client is gone. Never blocks: safe on the batching thread.
     */
    void probe(Runnable onGone) {
        synchronized (lock) {
            long now = System.nanoTime();
            if (stopped || probeQueued || now - lastProbeNanos < MIN_PROBE_INTERVAL_NANOS) return;
            probeQueued = true;
            lastProbeNanos = now;
        }
        try {
            connection.getIoThread().execute(() -> probeNow(onGone));
        } catch (RuntimeException e) { // the I/O thread is shutting down with the server
            synchronized (lock) {
                probeQueued = false;
                stopped = true;
            }
        }
    }

    /** No probe reads the connection after this returns: call it before the answer is written. */
    void stop() {
        synchronized (lock) {
            stopped = true;
        }
    }

    private void probeNow(Runnable onGone) {
        boolean gone;
        synchronized (lock) {
            probeQueued = false;
            if (stopped) return;
            if (!exchange.isRequestComplete() || exchange.isResponseStarted() || connection.getExtraBytes() != null)
                return;
            gone = readSaysGone();
        }
        if (gone) {
            LOG.fine(() ->
                    "client " + connection.getPeerAddress() + " closed its connection; cancelling its generation");
            onGone.run();
        }
    }

    /** Caller holds the lock. */
    private boolean readSaysGone() {
        PooledByteBuffer pooled = connection.getByteBufferPool().allocate();
        boolean handedOver = false;
        try {
            ByteBuffer buffer = pooled.getBuffer();
            buffer.clear();
            int read = connection.getOriginalSourceConduit().read(buffer);
            if (read < 0) {
                stopped = true;
                return true;
            }
            if (read > 0) { // a pipelined request: give its bytes back to Undertow, stop reading ourselves
                buffer.flip();
                connection.setExtraBytes(pooled);
                handedOver = true;
                stopped = true;
            }
            return false;
        } catch (IOException e) { // connection reset by peer, broken pipe
            LOG.log(Level.FINE, "probe of " + connection.getPeerAddress() + " failed", e);
            stopped = true;
            return true;
        } finally {
            if (!handedOver) pooled.close();
        }
    }
}
