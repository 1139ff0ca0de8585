package dev.anvil.it;

import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An OTLP/HTTP trace receiver in the test JVM (what a collector does, reduced to keeping the spans): the test servers
 * export their traces here ({@code OTEL_EXPORTER_OTLP_ENDPOINT}), TracingIT reads them. {@code POST /v1/traces} with
 * an {@code ExportTraceServiceRequest} in protobuf, answered with an empty {@code ExportTraceServiceResponse}.
 */
public final class TraceCollector {

    /** One received span: ids in lower-case hex, times in epoch nanoseconds, attributes as strings. */
    public record ReceivedSpan(
            String traceId,
            String spanId,
            String parentSpanId,
            String name,
            long startNanos,
            long endNanos,
            Map<String, String> attributes) {}

    private static TraceCollector instance;

    private final HttpServer server;
    private final List<ReceivedSpan> spans = new CopyOnWriteArrayList<>();

    private TraceCollector() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.createContext("/v1/traces", exchange -> {
            try (InputStream raw = exchange.getRequestBody()) {
                String encoding = exchange.getRequestHeaders().getFirst("Content-Encoding");
                InputStream in = "gzip".equalsIgnoreCase(encoding) ? new java.util.zip.GZIPInputStream(raw) : raw;
                ExportTraceServiceRequest request = ExportTraceServiceRequest.parseFrom(in.readAllBytes());
                for (ResourceSpans rs : request.getResourceSpansList()) {
                    for (ScopeSpans ss : rs.getScopeSpansList()) {
                        for (io.opentelemetry.proto.trace.v1.Span s : ss.getSpansList()) spans.add(received(s));
                    }
                }
                byte[] body = ExportTraceServiceResponse.getDefaultInstance().toByteArray();
                exchange.getResponseHeaders().set("Content-Type", "application/x-protobuf");
                exchange.sendResponseHeaders(200, body.length == 0 ? -1 : body.length);
                if (body.length > 0) {
                    try (OutputStream out = exchange.getResponseBody()) {
                        out.write(body);
                    }
                }
            } catch (IOException | RuntimeException e) {
                System.err.println("TraceCollector: unreadable export (" + e + "), headers "
                        + exchange.getRequestHeaders().entrySet());
                exchange.sendResponseHeaders(400, -1);
            } finally {
                exchange.close();
            }
        });
        server.start();
    }

    /** The run's collector, started on first use. */
    public static synchronized TraceCollector get() {
        if (instance == null) {
            try {
                instance = new TraceCollector();
            } catch (IOException e) {
                throw new IllegalStateException("cannot start the OTLP receiver", e);
            }
        }
        return instance;
    }

    /** The base URL exporters are given ({@code /v1/traces} is appended by them). */
    public String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** Every span received so far of one trace. */
    public List<ReceivedSpan> trace(String traceId) {
        List<ReceivedSpan> out = new ArrayList<>();
        for (ReceivedSpan s : spans) if (s.traceId().equals(traceId)) out.add(s);
        return out;
    }

    private static ReceivedSpan received(io.opentelemetry.proto.trace.v1.Span s) {
        HexFormat hex = HexFormat.of();
        Map<String, String> attributes = new TreeMap<>();
        for (KeyValue kv : s.getAttributesList()) {
            var v = kv.getValue();
            attributes.put(
                    kv.getKey(),
                    switch (v.getValueCase()) {
                        case INT_VALUE -> Long.toString(v.getIntValue());
                        case STRING_VALUE -> v.getStringValue();
                        case BOOL_VALUE -> Boolean.toString(v.getBoolValue());
                        case DOUBLE_VALUE -> Double.toString(v.getDoubleValue());
                        default -> v.toString();
                    });
        }
        return new ReceivedSpan(
                hex.formatHex(s.getTraceId().toByteArray()),
                hex.formatHex(s.getSpanId().toByteArray()),
                s.getParentSpanId().isEmpty()
                        ? null
                        : hex.formatHex(s.getParentSpanId().toByteArray()),
                s.getName(),
                s.getStartTimeUnixNano(),
                s.getEndTimeUnixNano(),
                attributes);
    }
}
