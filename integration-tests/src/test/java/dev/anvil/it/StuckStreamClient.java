package dev.anvil.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/**
 * A client that sends a streaming request over a raw socket and then stops reading: what a stuck or malicious SSE
 * client does. Its receive buffer is made small before it connects, so the server's writes block soon, and it reads
 * the response only when the test says so ({@link #statusLine()} reads the head alone; {@link #drainUntilClosed}
 * reads everything up to the end of the connection).
 */
public final class StuckStreamClient implements AutoCloseable {

    private final Socket socket;
    private final InputStream in;
    private String statusLine;

    private StuckStreamClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
    }

    /** Sends {@code POST path} with {@code json} and {@code headers}, reading nothing back. */
    public static StuckStreamClient send(AnvilServer server, String path, String json, Map<String, String> headers) {
        try {
            Socket socket = new Socket();
            socket.setReceiveBufferSize(4096); // before connect: the advertised window stays small
            socket.connect(
                    new InetSocketAddress(
                            server.baseUri().getHost(), server.baseUri().getPort()),
                    10_000);
            StringBuilder head = new StringBuilder("POST " + path + " HTTP/1.1\r\nHost: "
                    + server.baseUri().getHost() + ":" + server.baseUri().getPort()
                    + "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n");
            headers.forEach((name, value) ->
                    head.append(name).append(": ").append(value).append("\r\n"));
            byte[] body = json.getBytes(StandardCharsets.UTF_8);
            head.append("Content-Length: ").append(body.length).append("\r\n\r\n");
            OutputStream out = socket.getOutputStream();
            out.write(head.toString().getBytes(StandardCharsets.UTF_8));
            out.write(body);
            out.flush();
            return new StuckStreamClient(socket);
        } catch (IOException e) {
            throw new UncheckedIOException("sending " + path + " to " + server.baseUri() + " failed", e);
        }
    }

    /** Reads the response head only (status line and headers, byte by byte: nothing of the body), returns the status line. */
    public String statusLine(Duration timeout) {
        if (statusLine != null) return statusLine;
        try {
            socket.setSoTimeout((int) timeout.toMillis());
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int matched = 0;
            byte[] end = {'\r', '\n', '\r', '\n'};
            while (matched < 4) {
                int b = in.read();
                if (b < 0) throw new IOException("connection closed before the response head ended: " + head);
                head.write(b);
                matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
            }
            String text = head.toString(StandardCharsets.ISO_8859_1);
            statusLine = text.substring(0, text.indexOf("\r\n"));
            return statusLine;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Whether the head said 200. */
    public boolean ok(Duration timeout) {
        return statusLine(timeout).startsWith("HTTP/1.1 200");
    }

    /**
     * Reads everything the server sent until it closes the connection (end of stream or a reset); null when the
     * connection is still open at the deadline.
     */
    public String drainUntilClosed(Duration timeout) {
        Instant deadline = Instant.now().plus(timeout);
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        byte[] buffer = new byte[64 * 1024];
        try {
            while (Instant.now().isBefore(deadline)) {
                socket.setSoTimeout((int) Math.max(
                        1,
                        Math.min(1000, Duration.between(Instant.now(), deadline).toMillis())));
                try {
                    int n = in.read(buffer);
                    if (n < 0) return received.toString(StandardCharsets.UTF_8);
                    received.write(buffer, 0, n);
                } catch (SocketTimeoutException waiting) {
                    // nothing yet: read again until the deadline
                }
            }
            return null;
        } catch (SocketException reset) {
            return received.toString(StandardCharsets.UTF_8); // closed by the server with unread data: a reset
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing a socket the server may have closed already
        }
    }
}
