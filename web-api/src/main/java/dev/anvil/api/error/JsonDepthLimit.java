package dev.anvil.api.error;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.api.WebApiConfig;
import dev.anvil.api.openai.OpenAiConfig;
import jakarta.inject.Inject;
import jakarta.json.JsonException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.ext.Provider;
import jakarta.ws.rs.ext.ReaderInterceptor;
import jakarta.ws.rs.ext.ReaderInterceptorContext;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Refuses request bodies whose JSON nests deeper than {@code anvil.api.max-json-depth}, while they are read and
 * before any parser sees that depth. Parsson stops at 1000 levels with a plain RuntimeException, and JSON-B
 * (Yasson) recurses per level and can overflow the stack first; both surfaced as 500s. The refusal is a
 * {@link JsonException}, which every body reader path already answers as 400 {@code invalid_json}.
 *
 * <p>The count is taken on the bytes as they pass (brackets outside JSON strings), so it costs one pass and no
 * buffering, and applies to every JSON body whatever reads it. The same pass bounds the body's size at
 * {@code anvil.api.max-body-bytes} (413): the container's own limit on request bodies is raised for model uploads
 * (server-config 20-web.cli), so JSON bodies of the admin API are bounded here. Bodies of other media types (an
 * uploaded model file, {@code application/octet-stream}) are neither scanned nor bounded here: their endpoint bounds
 * them ({@code anvil.registry.upload.max-bytes}).
 */
@Provider
public class JsonDepthLimit implements ReaderInterceptor {

    @Inject
    WebApiConfig config;

    /** Null outside CDI (unit tests): no size bound. */
    @Inject
    OpenAiConfig bodies;

    @Override
    public Object aroundReadFrom(ReaderInterceptorContext context) throws IOException {
        MediaType type = context.getMediaType();
        if (type != null && !isJson(type)) return context.proceed();
        int limit = config == null ? WebApiConfig.DEFAULT_MAX_JSON_DEPTH : config.maxJsonDepth();
        long maxBytes = bodies == null ? Long.MAX_VALUE : bodies.maxBodyBytes();
        context.setInputStream(new DepthCheckingStream(context.getInputStream(), limit, maxBytes));
        return context.proceed();
    }

    private static boolean isJson(MediaType type) {
        return type.isWildcardType()
                || type.getSubtype().equalsIgnoreCase("json")
                || type.getSubtype().toLowerCase(java.util.Locale.ROOT).endsWith("+json");
    }

    /** Thrown when the body nests too deep. */
    public static final class TooDeep extends JsonException {
        TooDeep(int limit) {
            super("the JSON nests deeper than " + limit + " levels of arrays and objects ("
                    + WebApiConfig.MAX_JSON_DEPTH + ")");
        }
    }

    /** Passes bytes through unchanged, tracking the nesting of arrays and objects outside strings. */
    static final class DepthCheckingStream extends FilterInputStream {
        private final int limit;
        private final long maxBytes;
        private long bytes;
        private int depth;
        private boolean inString;
        private boolean escaped;

        DepthCheckingStream(InputStream in, int limit) {
            this(in, limit, Long.MAX_VALUE);
        }

        DepthCheckingStream(InputStream in, int limit, long maxBytes) {
            super(in);
            this.limit = limit;
            this.maxBytes = maxBytes;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) scan((byte) b);
            return b;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            int n = super.read(buffer, offset, length);
            for (int i = 0; i < n; i++) scan(buffer[offset + i]);
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            // Skipped bytes must be scanned too, or a nest could hide in them.
            long skipped = 0;
            byte[] buffer = new byte[8192];
            while (skipped < n) {
                int r = read(buffer, 0, (int) Math.min(buffer.length, n - skipped));
                if (r < 0) break;
                skipped += r;
            }
            return skipped;
        }

        @Override
        public boolean markSupported() {
            return false;
        }

        private void scan(byte b) {
            if (++bytes > maxBytes) {
                throw new ApiException(
                        413,
                        ApiErrors.TYPE_INVALID_REQUEST,
                        "the request body is larger than the limit of " + maxBytes + " bytes ("
                                + OpenAiConfig.MAX_BODY_BYTES + ")",
                        null,
                        "request_too_large");
            }
            if (inString) {
                if (escaped) escaped = false;
                else if (b == '\\') escaped = true;
                else if (b == '"') inString = false;
                return;
            }
            switch (b) {
                case '"' -> inString = true;
                case '[', '{' -> {
                    if (++depth > limit) throw new TooDeep(limit);
                }
                case ']', '}' -> depth--;
                default -> {}
            }
        }
    }
}
