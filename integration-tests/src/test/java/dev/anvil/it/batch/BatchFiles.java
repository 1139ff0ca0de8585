package dev.anvil.it.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import java.io.StringReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What the Batch ITs share: uploads as the OpenAI clients send them, batch creation and polling, file downloads. */
final class BatchFiles {

    static final String MODEL = "stories260k";
    static final String BOUNDARY = "----anvil-it-boundary";

    private BatchFiles() {}

    /** A chat line: greedy, so its answer equals the same request made live. */
    static String chatLine(String customId, String prompt, int maxTokens) {
        return line(
                customId,
                "/v1/chat/completions",
                Json.createObjectBuilder()
                        .add("model", MODEL)
                        .add("temperature", 0)
                        .add("max_tokens", maxTokens)
                        .add(
                                "messages",
                                Json.createArrayBuilder()
                                        .add(Json.createObjectBuilder()
                                                .add("role", "user")
                                                .add("content", prompt))));
    }

    static String line(String customId, String url, JsonObjectBuilder body) {
        return Json.createObjectBuilder()
                .add("custom_id", customId)
                .add("method", "POST")
                .add("url", url)
                .add("body", body)
                .build()
                .toString();
    }

    static String multipart(String purpose, String filename, String content) {
        return "--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n" + purpose + "\r\n"
                + "--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename
                + "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + "\r\n--" + BOUNDARY + "--\r\n";
    }

    static HttpResult upload(AnvilServer server, String content, Map<String, String> auth) {
        Map<String, String> headers = new HashMap<>(auth);
        headers.put("Content-Type", "multipart/form-data; boundary=" + BOUNDARY);
        return server.request("POST", "/v1/files", multipart("batch", "input.jsonl", content), headers);
    }

    static String uploaded(AnvilServer server, String content, Map<String, String> auth) {
        HttpResult r = upload(server, content, auth);
        assertEquals(200, r.status(), r::toString);
        return r.json().getString("id");
    }

    static HttpResult createBatch(AnvilServer server, String fileId, String endpoint, Map<String, String> auth) {
        Map<String, String> headers = new HashMap<>(auth);
        headers.put("Content-Type", "application/json");
        String body = Json.createObjectBuilder()
                .add("input_file_id", fileId)
                .add("endpoint", endpoint)
                .add("completion_window", "24h")
                .add("metadata", Json.createObjectBuilder().add("purpose", "it"))
                .build()
                .toString();
        return server.request("POST", "/v1/batches", body, headers);
    }

    static JsonObject created(AnvilServer server, String fileId, String endpoint, Map<String, String> auth) {
        HttpResult r = createBatch(server, fileId, endpoint, auth);
        assertEquals(200, r.status(), r::toString);
        return r.json();
    }

    static JsonObject batch(AnvilServer server, String id, Map<String, String> auth) {
        HttpResult r = server.request("GET", "/v1/batches/" + id, null, auth);
        assertEquals(200, r.status(), r::toString);
        return r.json();
    }

    /** Polls the batch until it reaches {@code status} (or another final status, which fails the assertion). */
    static JsonObject awaitStatus(
            AnvilServer server, String id, String status, Duration timeout, Map<String, String> auth) {
        HttpResult done = Eventually.until(
                () -> server.request("GET", "/v1/batches/" + id, null, auth),
                r -> r.status() != 200
                        || List.of("completed", "failed", "expired", "cancelled")
                                .contains(r.json().getString("status")),
                timeout);
        assertEquals(200, done.status(), done::toString);
        assertEquals(status, done.json().getString("status"), done::toString);
        return done.json();
    }

    /** A file's lines as JSON objects, by custom_id. */
    static Map<String, JsonObject> fileLines(AnvilServer server, String fileId, Map<String, String> auth) {
        HttpResult r = server.request("GET", "/v1/files/" + fileId + "/content", null, auth);
        assertEquals(200, r.status(), r::toString);
        Map<String, JsonObject> byId = new LinkedHashMap<>();
        for (String text : r.body().split("\n")) {
            if (text.isBlank()) continue;
            JsonObject line = Json.createReader(new StringReader(text)).readObject();
            byId.put(line.getString("custom_id"), line);
        }
        return byId;
    }

    static List<String> lines(int count, java.util.function.IntFunction<String> line) {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < count; i++) lines.add(line.apply(i));
        return lines;
    }
}
