package dev.anvil.api.batch;

import dev.anvil.api.ApiException;
import dev.anvil.batch.domain.Batch;
import jakarta.json.Json;
import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import jakarta.json.stream.JsonParsingException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A batch input file as OpenAI defines it: JSONL, one request per line,
 * {@code {"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {...}}}. {@link #parse} checks
 * what can be checked without knowing the batch (syntax, fields, sizes, unique custom ids), {@link #checkFor} what
 * depends on it (each line's url is the batch's endpoint, its model is served). Every refusal is a 400 naming the
 * line numbers (from 1, as an editor shows them), at most {@link #MAX_REPORTED} of them.
 */
public final class BatchInput {

    /** Longest custom_id (OpenAI does not document one; a bound is needed, the id is echoed in every output line). */
    static final int MAX_CUSTOM_ID = 512;
    /** Problems named in one error message. */
    static final int MAX_REPORTED = 10;
    /** Largest JSON nesting of a line (as {@code anvil.api.max-json-depth} bounds request bodies). */
    static final int MAX_DEPTH = 64;

    /** One request line: its number in the file (from 1), the raw text stored, and what the batch checks read. */
    public record Line(int number, String text, String customId, String url, String model) {}

    private BatchInput() {}

    /**
     * The request lines of {@code content}. Blank lines are skipped (a trailing newline is not a request); every other
     * line must be a request object within {@code maxLineBytes}, and there may be at most {@code maxLines}.
     */
    public static List<Line> parse(byte[] content, int maxLines, int maxLineBytes) {
        String text = utf8(content);
        List<Line> lines = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        int number = 0, start = 0;
        while (start <= text.length()) {
            int end = text.indexOf('\n', start);
            if (end < 0) end = text.length();
            number++;
            String raw = text.substring(start, end);
            if (raw.endsWith("\r")) raw = raw.substring(0, raw.length() - 1);
            start = end + 1;
            if (raw.isBlank()) continue;
            if (lines.size() == maxLines) {
                throw ApiException.badRequest(
                        "the file holds more than " + maxLines + " requests (anvil.batch.max-lines); split it into"
                                + " several batches",
                        "file");
            }
            if (raw.getBytes(StandardCharsets.UTF_8).length > maxLineBytes) {
                problems.add(
                        "line " + number + " is longer than " + maxLineBytes + " bytes (anvil.batch.max-line-bytes)");
                continue;
            }
            try {
                Line line = line(number, raw);
                Integer earlier = seen.putIfAbsent(line.customId(), number);
                if (earlier != null) {
                    problems.add("line " + number + " repeats the custom_id '" + line.customId() + "' of line "
                            + earlier + " (each request needs its own)");
                } else {
                    lines.add(line);
                }
            } catch (IllegalArgumentException e) {
                problems.add("line " + number + ": " + e.getMessage());
            }
        }
        if (!problems.isEmpty()) throw invalid(problems, "file");
        if (lines.isEmpty()) {
            throw ApiException.badRequest("the file holds no request line (JSONL: one JSON object per line)", "file");
        }
        return lines;
    }

    private static String utf8(byte[] content) {
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(content))
                    .toString();
        } catch (CharacterCodingException e) {
            throw ApiException.badRequest("the file is not UTF-8 text (JSONL expected)", "file");
        }
    }

    /** One line's request; {@link IllegalArgumentException} with what is wrong with it. */
    static Line line(int number, String raw) {
        if (raw.indexOf('\0') >= 0) throw new IllegalArgumentException("a NUL character is not allowed");
        JsonObject request;
        try (var reader = Json.createReader(new StringReader(raw))) {
            JsonValue value = reader.readValue();
            if (!(value instanceof JsonObject o)) throw new IllegalArgumentException("not a JSON object");
            request = o;
        } catch (JsonParsingException e) {
            throw new IllegalArgumentException("not valid JSON (" + e.getMessage() + ")");
        } catch (JsonException e) {
            throw new IllegalArgumentException("not valid JSON");
        }
        if (depth(request, 0) > MAX_DEPTH) {
            throw new IllegalArgumentException("nested deeper than " + MAX_DEPTH + " levels");
        }
        String customId = string(request, "custom_id");
        if (customId.isEmpty() || customId.length() > MAX_CUSTOM_ID) {
            throw new IllegalArgumentException("'custom_id' must be 1 to " + MAX_CUSTOM_ID + " characters");
        }
        String method = string(request, "method");
        if (!method.equals("POST")) {
            throw new IllegalArgumentException("'method' must be \"POST\", got \"" + method + "\"");
        }
        String url = string(request, "url");
        if (!Batch.ENDPOINTS.contains(url)) {
            throw new IllegalArgumentException(
                    "'url' must be one of " + String.join(", ", Batch.ENDPOINTS) + ", got \"" + url + "\"");
        }
        if (!(request.get("body") instanceof JsonObject body)) {
            throw new IllegalArgumentException("'body' must be the request object of " + url);
        }
        if (body.containsKey("stream") && body.get("stream") != JsonValue.FALSE) {
            throw new IllegalArgumentException("'body.stream' is not supported in a batch (the answer is one line)");
        }
        if (!(body.get("model") instanceof JsonString model)
                || model.getString().isBlank()) {
            throw new IllegalArgumentException("'body.model' must name a model");
        }
        return new Line(number, raw, customId, url, model.getString());
    }

    private static String string(JsonObject request, String field) {
        if (!(request.get(field) instanceof JsonString s)) {
            throw new IllegalArgumentException("'" + field + "' must be a string");
        }
        return s.getString();
    }

    private static int depth(JsonValue value, int level) {
        if (level > MAX_DEPTH) return level;
        int deepest = level;
        if (value instanceof JsonObject o) {
            for (JsonValue v : o.values()) deepest = Math.max(deepest, depth(v, level + 1));
        } else if (value instanceof jakarta.json.JsonArray a) {
            for (JsonValue v : a) deepest = Math.max(deepest, depth(v, level + 1));
        }
        return deepest;
    }

    /** What a model check answers for a line's model: null when it may be used, else why not. */
    @FunctionalInterface
    public interface ModelCheck {
        String refusal(String model);
    }

    /**
     * The checks that depend on the batch: every line's url is its {@code endpoint}, and every line's model passes
     * {@code models} (served, and allowed to the caller's key).
     */
    public static void checkFor(List<Line> lines, String endpoint, ModelCheck models) {
        List<String> problems = new ArrayList<>();
        Map<String, String> refusals = new HashMap<>();
        for (Line line : lines) {
            if (!line.url().equals(endpoint)) {
                problems.add("line " + line.number() + " has url " + line.url() + " but the batch's endpoint is "
                        + endpoint + " (a batch runs one endpoint)");
                continue;
            }
            String refusal = refusals.computeIfAbsent(line.model(), m -> {
                String r = models.refusal(m);
                return r == null ? "" : r;
            });
            if (!refusal.isEmpty()) problems.add("line " + line.number() + ": " + refusal);
        }
        if (!problems.isEmpty()) throw invalid(problems, "input_file_id");
    }

    private static ApiException invalid(List<String> problems, String param) {
        String shown = String.join("; ", problems.subList(0, Math.min(MAX_REPORTED, problems.size())));
        String more = problems.size() > MAX_REPORTED ? " (and " + (problems.size() - MAX_REPORTED) + " more)" : "";
        return new ApiException(
                400,
                dev.anvil.api.ApiErrors.TYPE_INVALID_REQUEST,
                "invalid batch input: " + shown + more,
                param,
                "invalid_batch_input");
    }
}
