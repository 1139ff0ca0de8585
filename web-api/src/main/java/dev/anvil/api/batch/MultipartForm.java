package dev.anvil.api.batch;

import dev.anvil.api.ApiException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code multipart/form-data} body (RFC 7578) as the OpenAI clients send {@code POST /v1/files}: its parts by field
 * name, each with its file name (if any) and bytes. Read whole but bounded: a body beyond {@code maxBytes} is a 413
 * before anything is parsed. Only what an upload needs is supported: no nested multipart, no transfer encodings.
 */
public final class MultipartForm {

    private static final Pattern BOUNDARY = Pattern.compile("(?i)boundary=(?:\"([^\"]{1,70})\"|([^;\\s]{1,70}))");
    private static final Pattern NAME = Pattern.compile("(?i);\\s*name=\"([^\"]*)\"");
    private static final Pattern FILENAME = Pattern.compile("(?i);\\s*filename=\"([^\"]*)\"");
    /** Parts a form may have (an upload has two: purpose and file). */
    private static final int MAX_PARTS = 16;

    /** One part: its file name (null for a plain field) and content. */
    public record Part(String filename, byte[] content) {
        public String text() {
            return new String(content, StandardCharsets.UTF_8);
        }
    }

    private final Map<String, Part> parts;

    private MultipartForm(Map<String, Part> parts) {
        this.parts = parts;
    }

    public Part part(String name) {
        return parts.get(name);
    }

    /** Reads and parses a body of content type {@code contentType}; 400 when it is not such a form, 413 when too big. */
    public static MultipartForm read(InputStream body, String contentType, long maxBytes) {
        if (contentType == null || !contentType.toLowerCase(Locale.ROOT).startsWith("multipart/form-data")) {
            throw ApiException.badRequest(
                    "upload the file as multipart/form-data with the fields 'file' and 'purpose' (as the OpenAI"
                            + " clients do)",
                    "file");
        }
        Matcher m = BOUNDARY.matcher(contentType);
        if (!m.find()) throw ApiException.badRequest("the multipart/form-data content type names no boundary", "file");
        String boundary = m.group(1) != null ? m.group(1) : m.group(2);
        return parse(readBounded(body, maxBytes), boundary);
    }

    private static byte[] readBounded(InputStream body, long maxBytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[64 * 1024];
        long total = 0;
        try (body) {
            int n;
            while ((n = body.read(buffer)) > 0) {
                total += n;
                if (total > maxBytes) {
                    throw new ApiException(
                            413,
                            dev.anvil.api.ApiErrors.TYPE_INVALID_REQUEST,
                            "the upload is larger than " + maxBytes + " bytes (anvil.batch.max-file-bytes)",
                            "file",
                            "file_too_large");
                }
                out.write(buffer, 0, n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    static MultipartForm parse(byte[] body, String boundary) {
        byte[] delimiter = ("--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
        int at = indexOf(body, delimiter, 0);
        if (at < 0) throw malformed("no part starts with the boundary");
        Map<String, Part> parts = new LinkedHashMap<>();
        byte[] next = ("\r\n--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
        int pos = at + delimiter.length;
        while (true) {
            if (pos + 2 <= body.length && body[pos] == '-' && body[pos + 1] == '-') break; // closing delimiter
            pos = skipLineEnd(body, pos);
            int headersEnd = indexOf(body, new byte[] {'\r', '\n', '\r', '\n'}, pos);
            if (headersEnd < 0) throw malformed("a part has no end of headers");
            String headers = new String(body, pos, headersEnd - pos, StandardCharsets.UTF_8);
            int contentStart = headersEnd + 4;
            int contentEnd = indexOf(body, next, contentStart);
            if (contentEnd < 0) throw malformed("a part is not closed by the boundary");
            String disposition = header(headers, "content-disposition");
            Matcher name = disposition == null ? null : NAME.matcher(disposition);
            if (name == null || !name.find()) throw malformed("a part has no Content-Disposition name");
            Matcher filename = FILENAME.matcher(disposition);
            if (parts.size() == MAX_PARTS) throw malformed("more than " + MAX_PARTS + " parts");
            parts.putIfAbsent(
                    name.group(1),
                    new Part(
                            filename.find() ? filename.group(1) : null,
                            Arrays.copyOfRange(body, contentStart, contentEnd)));
            pos = contentEnd + next.length;
        }
        return new MultipartForm(parts);
    }

    private static String header(String headers, String wanted) {
        for (String line : headers.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(wanted)) {
                return line.substring(colon + 1).trim();
            }
        }
        return null;
    }

    private static int skipLineEnd(byte[] body, int pos) {
        while (pos < body.length && (body[pos] == ' ' || body[pos] == '\t')) pos++; // transport padding
        if (pos + 1 < body.length && body[pos] == '\r' && body[pos + 1] == '\n') return pos + 2;
        throw malformed("a boundary is not followed by a line end");
    }

    private static int indexOf(byte[] haystack, byte[] needle, int from) {
        outer:
        for (int i = Math.max(0, from); i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) continue outer;
            }
            return i;
        }
        return -1;
    }

    private static ApiException malformed(String what) {
        return ApiException.badRequest("malformed multipart/form-data body: " + what, "file");
    }
}
