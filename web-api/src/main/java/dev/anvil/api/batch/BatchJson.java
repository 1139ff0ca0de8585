package dev.anvil.api.batch;

import dev.anvil.batch.BatchStore;
import dev.anvil.batch.domain.Batch;
import dev.anvil.batch.domain.BatchFile;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import java.io.StringReader;
import java.time.Instant;
import java.util.List;

/** The Batch API's objects in OpenAI's shapes: file, batch, lists, and the lines of output and error files. */
final class BatchJson {

    private BatchJson() {}

    static JsonObject file(BatchFile f) {
        return Json.createObjectBuilder()
                .add("id", f.id())
                .add("object", "file")
                .add("bytes", f.bytes())
                .add("created_at", f.createdAt().getEpochSecond())
                .add("filename", f.filename())
                .add("purpose", f.purpose())
                .add("status", "processed")
                .build();
    }

    static JsonObject fileDeleted(String id) {
        return Json.createObjectBuilder()
                .add("id", id)
                .add("object", "file")
                .add("deleted", true)
                .build();
    }

    static JsonObject batch(Batch b) {
        JsonObjectBuilder o = Json.createObjectBuilder()
                .add("id", b.id())
                .add("object", "batch")
                .add("endpoint", b.endpoint());
        if (b.errorMessage() == null) {
            o.add("errors", JsonValue.NULL);
        } else {
            o.add(
                    "errors",
                    Json.createObjectBuilder()
                            .add("object", "list")
                            .add(
                                    "data",
                                    Json.createArrayBuilder()
                                            .add(Json.createObjectBuilder()
                                                    .add("code", "batch_failed")
                                                    .add("message", b.errorMessage())
                                                    .add("param", JsonValue.NULL)
                                                    .add("line", JsonValue.NULL))));
        }
        boolean over = b.isTerminal();
        o.add("input_file_id", b.inputFileId())
                .add("completion_window", b.completionWindow())
                .add("status", b.status());
        fileId(o, "output_file_id", over && b.completed() > 0 ? b.outputFileId() : null);
        fileId(o, "error_file_id", over && b.failed() > 0 ? b.errorFileId() : null);
        o.add("created_at", b.createdAt().getEpochSecond());
        time(o, "in_progress_at", b.inProgressAt());
        time(o, "expires_at", b.expiresAt());
        time(o, "finalizing_at", b.finalizingAt());
        time(o, "completed_at", b.completedAt());
        time(o, "failed_at", b.failedAt());
        time(o, "expired_at", b.expiredAt());
        time(o, "cancelling_at", b.cancellingAt());
        time(o, "cancelled_at", b.cancelledAt());
        o.add(
                "request_counts",
                Json.createObjectBuilder()
                        .add("total", b.total())
                        .add("completed", b.completed())
                        .add("failed", b.failed()));
        if (b.metadata() == null) {
            o.add("metadata", JsonValue.NULL);
        } else {
            try (var reader = Json.createReader(new StringReader(b.metadata()))) {
                o.add("metadata", reader.readObject());
            }
        }
        return o.build();
    }

    private static void fileId(JsonObjectBuilder o, String name, String id) {
        if (id == null) o.add(name, JsonValue.NULL);
        else o.add(name, id);
    }

    private static void time(JsonObjectBuilder o, String name, Instant at) {
        if (at == null) o.add(name, JsonValue.NULL);
        else o.add(name, at.getEpochSecond());
    }

    /** OpenAI's list envelope with cursor fields. */
    static JsonObject list(List<JsonObject> data, boolean hasMore) {
        JsonArrayBuilder items = Json.createArrayBuilder();
        data.forEach(items::add);
        JsonObjectBuilder o = Json.createObjectBuilder().add("object", "list").add("data", items);
        if (data.isEmpty()) {
            o.add("first_id", JsonValue.NULL).add("last_id", JsonValue.NULL);
        } else {
            o.add("first_id", data.getFirst().getString("id"))
                    .add("last_id", data.getLast().getString("id"));
        }
        return o.add("has_more", hasMore).build();
    }

    /**
     * A line of the output file (a 2xx answer) or of the error file (another status): {@code {"id", "custom_id",
     * "response": {"status_code", "request_id", "body"}, "error": null}}.
     */
    static String answered(String customId, int status, String requestId, JsonValue body) {
        return Json.createObjectBuilder()
                .add("id", BatchStore.newId("batch_req_"))
                .add("custom_id", customId)
                .add(
                        "response",
                        Json.createObjectBuilder()
                                .add("status_code", status)
                                .add("request_id", requestId)
                                .add("body", body))
                .add("error", JsonValue.NULL)
                .build()
                .toString();
    }

    /** A line of the error file for a request that got no HTTP answer: {@code "response": null, "error": {...}}. */
    static String failed(String customId, String code, String message) {
        return Json.createObjectBuilder()
                .add("id", BatchStore.newId("batch_req_"))
                .add("custom_id", customId)
                .add("response", JsonValue.NULL)
                .add("error", Json.createObjectBuilder().add("code", code).add("message", message))
                .build()
                .toString();
    }
}
