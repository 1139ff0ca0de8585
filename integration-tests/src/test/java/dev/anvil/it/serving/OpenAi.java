package dev.anvil.it.serving;

import dev.anvil.it.AnvilServer;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Test client for the OpenAI-compatible endpoints: Server-Sent Events reading and metrics polling. */
final class OpenAi {

    static final String MODEL = "stories260k";
    private static final HttpClient CLIENT = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    private static final Pattern KV_USED =
            Pattern.compile("(?m)^anvil_inference_kv_blocks_used\\{[^}]*model=\"" + MODEL + "\"[^}]*} ([0-9.E]+)$");

    private OpenAi() {}

    /** A finished SSE exchange: the JSON of every {@code data:} event before {@code [DONE]}, and whether it came. */
    record Stream(
            int status,
            HttpHeaders headers,
            String contentType,
            List<JsonObject> events,
            boolean done,
            String errorBody) {

        /** Concatenated text of all chunks: {@code choices[0].text} (completions) or {@code delta.content} (chat). */
        String text() {
            StringBuilder sb = new StringBuilder();
            for (JsonObject e : events) {
                String t = chunkText(e);
                if (t != null) sb.append(t);
            }
            return sb.toString();
        }

        /** Chunks that carry non-empty text. */
        long contentChunks() {
            return events.stream()
                    .map(OpenAi::chunkText)
                    .filter(t -> t != null && !t.isEmpty())
                    .count();
        }

        JsonObject last() {
            return events.getLast();
        }

        @Override
        public String toString() {
            return "HTTP " + status + " " + contentType + " done=" + done + " events=" + events
                    + (errorBody == null ? "" : " body=" + errorBody);
        }
    }

    static String chunkText(JsonObject event) {
        if (!event.containsKey("choices") || event.getJsonArray("choices").isEmpty()) return null;
        JsonObject choice = event.getJsonArray("choices").getJsonObject(0);
        if (choice.containsKey("text") && !choice.isNull("text")) return choice.getString("text");
        if (choice.containsKey("delta")) {
            JsonObject delta = choice.getJsonObject("delta");
            if (delta.containsKey("content") && !delta.isNull("content")) return delta.getString("content");
        }
        return null;
    }

    static JsonObject json(String text) {
        return Json.createReader(new StringReader(text)).readObject();
    }

    /**
     * Headers of a generation request that must really run the model (tests of the engine's own determinism):
     * {@code Cache-Control: no-store} keeps the response cache out of it.
     */
    static final java.util.Map<String, String> UNCACHED =
            java.util.Map.of("Content-Type", "application/json", "Cache-Control", "no-store");

    /**
     * {@link #UNCACHED} with an admin's credentials: for requests that pin a version its name does not serve, which only
     * admins and keys allowed to pin may do.
     */
    static final java.util.Map<String, String> UNCACHED_AS_ADMIN = java.util.Map.of(
            "Content-Type",
            "application/json",
            "Cache-Control",
            "no-store",
            "Authorization",
            AnvilServer.basicAuth(AnvilServer.ADMIN_USER));

    /** POSTs a generation request past the response cache (see {@link #UNCACHED}). */
    static dev.anvil.it.HttpResult postUncached(AnvilServer server, String path, String body) {
        return server.request("POST", path, body, UNCACHED);
    }

    /** Opens a streaming request; the caller reads (part of) the body and closes it. */
    static HttpResponse<InputStream> open(AnvilServer server, String path, String body) {
        return open(server, path, body, java.util.Map.of());
    }

    /** Opens a streaming request with extra headers; the caller reads (part of) the body and closes it. */
    static HttpResponse<InputStream> open(
            AnvilServer server, String path, String body, java.util.Map<String, String> headers) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(server.uri(path))
                .timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json")
                .header("Accept", "text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        headers.forEach((name, value) -> {
            if (!name.equalsIgnoreCase("Content-Type")) builder.header(name, value);
        });
        HttpRequest request = builder.build();
        try {
            return CLIENT.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new UncheckedIOException("POST " + path + " failed; server log: " + server.serverLog(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Sends a streaming request and reads the whole event stream. */
    static Stream stream(AnvilServer server, String path, String body) {
        return stream(server, path, body, java.util.Map.of());
    }

    /** Like {@link #stream(AnvilServer, String, String)} with extra request headers. */
    static Stream stream(AnvilServer server, String path, String body, java.util.Map<String, String> headers) {
        HttpResponse<InputStream> response = open(server, path, body, headers);
        String contentType = response.headers().firstValue("Content-Type").orElse("");
        try (InputStream in = response.body();
                BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            if (response.statusCode() != 200) {
                StringBuilder sb = new StringBuilder();
                for (String line; (line = reader.readLine()) != null; ) sb.append(line);
                return new Stream(
                        response.statusCode(), response.headers(), contentType, List.of(), false, sb.toString());
            }
            List<JsonObject> events = new ArrayList<>();
            boolean done = false;
            for (String line; (line = reader.readLine()) != null; ) {
                if (!line.startsWith("data:")) continue;
                String data = line.substring(5).trim();
                if (data.equals("[DONE]")) {
                    done = true;
                    break;
                }
                events.add(json(data));
            }
            return new Stream(response.statusCode(), response.headers(), contentType, events, done, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The model's KV cache blocks in use, from /metrics. */
    static double kvBlocksUsed(AnvilServer server) {
        String metrics = server.get("/metrics?scope=application").body();
        Matcher m = KV_USED.matcher(metrics);
        if (!m.find())
            throw new AssertionError("no anvil_inference_kv_blocks_used gauge for " + MODEL + " in /metrics");
        return Double.parseDouble(m.group(1));
    }

    /** Polls until {@code value} equals {@code expected} or the deadline passes; returns the last value seen. */
    static double pollUntil(DoubleSupplier value, double expected, Duration timeout) {
        Instant deadline = Instant.now().plus(timeout);
        double last = value.getAsDouble();
        while (last != expected && Instant.now().isBefore(deadline)) {
            Thread.onSpinWait();
            last = value.getAsDouble();
        }
        return last;
    }

    /** A /v1/completions body. */
    static String completion(String prompt, int maxTokens, String extra) {
        return "{\"model\":\"" + MODEL + "\",\"prompt\":" + quote(prompt) + ",\"max_tokens\":" + maxTokens
                + (extra.isEmpty() ? "" : "," + extra) + "}";
    }

    /** A /v1/chat/completions body with one user message. */
    static String chat(String user, int maxTokens, String extra) {
        return "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":" + quote(user)
                + "}],\"max_tokens\":" + maxTokens + (extra.isEmpty() ? "" : "," + extra) + "}";
    }

    static String quote(String s) {
        return Json.createValue(s).toString();
    }
}
