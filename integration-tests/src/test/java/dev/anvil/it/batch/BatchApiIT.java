package dev.anvil.it.batch;

import static dev.anvil.it.batch.BatchFiles.MODEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.StringReader;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The Batch API on the default server (loopback, anonymous callers): a JSONL file uploaded as the OpenAI clients
 * upload it, a batch run by its Jakarta Batch job to completed, output and error files in OpenAI's line shape whose
 * answers equal the same requests made live, cancellation, listing, and every kind of bad input as a 400 naming it.
 */
@ExtendWith(AnvilServerExtension.class)
class BatchApiIT {

    private static final Map<String, String> NONE = Map.of();
    private static final Duration RUN = Duration.ofMinutes(3);

    private static String liveChat(AnvilServer server, String line) {
        JsonObject body = Json.createReader(new StringReader(line)).readObject().getJsonObject("body");
        HttpResult r = server.post("/v1/chat/completions", body.toString());
        assertEquals(200, r.status(), r::toString);
        return r.json()
                .getJsonArray("choices")
                .getJsonObject(0)
                .getJsonObject("message")
                .getString("content");
    }

    @Test
    void chatBatchAnswersEachLineAsTheLiveRequestWouldAndFailedLinesGoToTheErrorFile(AnvilServer server) {
        List<String> good = List.of(
                BatchFiles.chatLine("story-1", "Once upon a time", 24),
                BatchFiles.chatLine("story-2", "The little dog", 16),
                BatchFiles.chatLine("story-3", "Lily went to the park", 20));
        // valid JSONL, but a request the endpoint refuses: a line of the error file with its 400
        String bad = BatchFiles.line(
                "bad-1",
                "/v1/chat/completions",
                Json.createObjectBuilder()
                        .add("model", MODEL)
                        .add("max_tokens", -5)
                        .add(
                                "messages",
                                Json.createArrayBuilder()
                                        .add(Json.createObjectBuilder()
                                                .add("role", "user")
                                                .add("content", "x"))));
        String file = BatchFiles.uploaded(server, String.join("\n", good) + "\n" + bad + "\n", NONE);
        HttpResult described = server.get("/v1/files/" + file);
        assertEquals(200, described.status(), described::toString);
        assertEquals("batch", described.json().getString("purpose"));
        assertEquals("input.jsonl", described.json().getString("filename"));

        JsonObject batch = BatchFiles.created(server, file, "/v1/chat/completions", NONE);
        assertTrue(batch.getString("id").startsWith("batch_"), batch::toString);
        assertEquals("batch", batch.getString("object"));
        assertEquals(4, batch.getJsonObject("request_counts").getInt("total"));
        assertEquals("it", batch.getJsonObject("metadata").getString("purpose"));
        assertEquals("24h", batch.getString("completion_window"));

        JsonObject done = BatchFiles.awaitStatus(server, batch.getString("id"), "completed", RUN, NONE);
        assertEquals(3, done.getJsonObject("request_counts").getInt("completed"), done::toString);
        assertEquals(1, done.getJsonObject("request_counts").getInt("failed"), done::toString);
        assertFalse(done.isNull("completed_at"));
        assertFalse(done.isNull("in_progress_at"));

        Map<String, JsonObject> output = BatchFiles.fileLines(server, done.getString("output_file_id"), NONE);
        assertEquals(List.of("story-1", "story-2", "story-3"), List.copyOf(output.keySet()));
        for (String line : good) {
            String customId =
                    Json.createReader(new StringReader(line)).readObject().getString("custom_id");
            JsonObject answer = output.get(customId);
            assertTrue(answer.getString("id").startsWith("batch_req_"), answer::toString);
            assertTrue(answer.isNull("error"));
            JsonObject response = answer.getJsonObject("response");
            assertEquals(200, response.getInt("status_code"));
            JsonObject body = response.getJsonObject("body");
            assertEquals(body.getString("id"), response.getString("request_id"));
            assertEquals("chat.completion", body.getString("object"));
            String batched = body.getJsonArray("choices")
                    .getJsonObject(0)
                    .getJsonObject("message")
                    .getString("content");
            assertEquals(liveChat(server, line), batched, "batch line " + customId + " answers as the live request");
        }
        Map<String, JsonObject> errors = BatchFiles.fileLines(server, done.getString("error_file_id"), NONE);
        assertEquals(List.of("bad-1"), List.copyOf(errors.keySet()));
        JsonObject failed = errors.get("bad-1").getJsonObject("response");
        assertEquals(400, failed.getInt("status_code"));
        assertEquals(
                "max_tokens",
                failed.getJsonObject("body").getJsonObject("error").getString("param"));

        HttpResult outputFile = server.get("/v1/files/" + done.getString("output_file_id"));
        assertEquals("batch_output", outputFile.json().getString("purpose"), outputFile::toString);

        String metrics = server.get("/metrics").body();
        assertTrue(metrics.contains("anvil_batch_lines_total"), "batch metrics are exported");
        assertTrue(metrics.contains("anvil_batch_line_executions_total"), "batch metrics are exported");
    }

    @Test
    void completionsAndEmbeddingsOfTheWrongKind(AnvilServer server) {
        String line = BatchFiles.line(
                "c-1",
                "/v1/completions",
                Json.createObjectBuilder()
                        .add("model", MODEL)
                        .add("prompt", "Once upon a time")
                        .add("temperature", 0)
                        .add("max_tokens", 12));
        String file = BatchFiles.uploaded(server, line, NONE);
        JsonObject done = BatchFiles.awaitStatus(
                server,
                BatchFiles.created(server, file, "/v1/completions", NONE).getString("id"),
                "completed",
                RUN,
                NONE);
        JsonObject body = BatchFiles.fileLines(server, done.getString("output_file_id"), NONE)
                .get("c-1")
                .getJsonObject("response")
                .getJsonObject("body");
        HttpResult live = server.post(
                "/v1/completions",
                "{\"model\":\"" + MODEL + "\",\"prompt\":\"Once upon a time\",\"temperature\":0,\"max_tokens\":12}");
        assertEquals(
                live.json().getJsonArray("choices").getJsonObject(0).getString("text"),
                body.getJsonArray("choices").getJsonObject(0).getString("text"));
        assertTrue(done.isNull("error_file_id"), "no failed line, no error file");

        // a generation model cannot serve an embeddings batch: refused when the batch is created, naming the line
        String embeddings = BatchFiles.line(
                "e-1",
                "/v1/embeddings",
                Json.createObjectBuilder().add("model", MODEL).add("input", "hello"));
        HttpResult refused =
                BatchFiles.createBatch(server, BatchFiles.uploaded(server, embeddings, NONE), "/v1/embeddings", NONE);
        assertError(refused, 400, "line 1: model 'stories260k' is a generation model");
    }

    @Test
    void cancelStopsTheBatchAndKeepsWhatWasAnswered(AnvilServer server) {
        List<String> lines = BatchFiles.lines(400, i -> BatchFiles.chatLine("c" + i, "Tell me story " + i, 64));
        String file = BatchFiles.uploaded(server, String.join("\n", lines), NONE);
        String id =
                BatchFiles.created(server, file, "/v1/chat/completions", NONE).getString("id");
        HttpResult cancelling = server.post("/v1/batches/" + id + "/cancel", "");
        assertEquals(200, cancelling.status(), cancelling::toString);
        assertTrue(
                List.of("cancelling", "cancelled").contains(cancelling.json().getString("status")),
                cancelling::toString);
        JsonObject cancelled = BatchFiles.awaitStatus(server, id, "cancelled", RUN, NONE);
        int answered = cancelled.getJsonObject("request_counts").getInt("completed");
        assertTrue(answered < 400, "a cancelled batch stops before its end: " + cancelled);
        assertFalse(cancelled.isNull("cancelled_at"));
        if (answered > 0) {
            assertEquals(
                    answered,
                    BatchFiles.fileLines(server, cancelled.getString("output_file_id"), NONE)
                            .size());
        }
        HttpResult again = server.post("/v1/batches/" + id + "/cancel", "");
        assertEquals(200, again.status(), again::toString);
        assertEquals("cancelled", again.json().getString("status"), "cancelling a cancelled batch changes nothing");
    }

    @Test
    void listsPageNewestFirst(AnvilServer server) {
        String file = BatchFiles.uploaded(server, BatchFiles.chatLine("l", "Hi", 4), NONE);
        String first =
                BatchFiles.created(server, file, "/v1/chat/completions", NONE).getString("id");
        String second =
                BatchFiles.created(server, file, "/v1/chat/completions", NONE).getString("id");
        HttpResult page = server.get("/v1/batches?limit=1");
        assertEquals(200, page.status(), page::toString);
        assertEquals(second, page.json().getJsonArray("data").getJsonObject(0).getString("id"));
        assertTrue(page.json().getBoolean("has_more"));
        HttpResult next = server.get("/v1/batches?limit=1&after=" + second);
        assertEquals(first, next.json().getJsonArray("data").getJsonObject(0).getString("id"), next::toString);
        assertError(server.get("/v1/batches?limit=0"), 400, "'limit' must be 1 to 100");
    }

    @Test
    void filesCanBeDeleted(AnvilServer server) {
        String file = BatchFiles.uploaded(server, BatchFiles.chatLine("d", "Hi", 4), NONE);
        HttpResult content = server.get("/v1/files/" + file + "/content");
        assertEquals(BatchFiles.chatLine("d", "Hi", 4) + "\n", content.body());
        HttpResult deleted = server.delete("/v1/files/" + file);
        assertEquals(200, deleted.status(), deleted::toString);
        assertTrue(deleted.json().getBoolean("deleted"));
        assertError(server.get("/v1/files/" + file), 404, "no file");
    }

    @Test
    void badInputIsA400NamingTheProblem(AnvilServer server) {
        String ok = BatchFiles.chatLine("a", "Hi", 4);
        assertError(
                server.request(
                        "POST",
                        "/v1/files",
                        BatchFiles.multipart("fine-tune", "x.jsonl", ok),
                        Map.of("Content-Type", "multipart/form-data; boundary=" + BatchFiles.BOUNDARY)),
                400,
                "'purpose' must be \"batch\"");
        assertError(BatchFiles.upload(server, ok + "\n{oops\n", NONE), 400, "line 2: not valid JSON");
        assertError(BatchFiles.upload(server, ok + "\n" + ok, NONE), 400, "line 2 repeats the custom_id 'a' of line 1");
        assertError(server.request("POST", "/v1/files", "{}", Map.of("Content-Type", "application/json")), 415, null);

        String file = BatchFiles.uploaded(server, ok, NONE);
        assertError(
                BatchFiles.createBatch(server, file, "/v1/images/generations", NONE), 400, "'endpoint' must be one of");
        assertError(
                BatchFiles.createBatch(server, file, "/v1/completions", NONE),
                400,
                "line 1 has url /v1/chat/completions but the batch's endpoint is /v1/completions");
        assertError(BatchFiles.createBatch(server, "file-missing", "/v1/chat/completions", NONE), 404, "no file");
        String unknownModel = BatchFiles.uploaded(server, ok.replace(MODEL, "no-such-model"), NONE);
        assertError(
                BatchFiles.createBatch(server, unknownModel, "/v1/chat/completions", NONE),
                400,
                "line 1: model 'no-such-model' is not served");
        HttpResult window = server.post(
                "/v1/batches",
                "{\"input_file_id\":\"" + file
                        + "\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"1h\"}");
        assertError(window, 400, "'completion_window' must be \"24h\"");
        assertError(server.get("/v1/batches/batch_missing"), 404, "no batch");
    }

    @Test
    void theOfficialOpenAiNodeClientRunsABatch(AnvilServer server) throws Exception {
        java.nio.file.Path dir = java.nio.file.Path.of("target/openai-node").toAbsolutePath();
        java.nio.file.Files.createDirectories(dir);
        if (!java.nio.file.Files.isDirectory(dir.resolve("node_modules/openai"))) {
            // the client as locked in src/test/node/openai-client (npm ci: exactly the lock), as EmbeddingsIT installs
            // it
            java.nio.file.Path locked =
                    java.nio.file.Path.of("src/test/node/openai-client").toAbsolutePath();
            for (String f : List.of("package.json", "package-lock.json")) {
                java.nio.file.Files.copy(
                        locked.resolve(f), dir.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            run(dir, 300, "npm", "ci", "--no-audit", "--no-fund", "--silent");
        }
        List<String> lines = List.of(
                BatchFiles.chatLine("node-1", "Once upon a time there was", 20),
                BatchFiles.chatLine("node-2", "The cat sat", 12));
        java.nio.file.Path input = dir.resolve("batch-input.jsonl");
        java.nio.file.Files.writeString(input, String.join("\n", lines) + "\n");
        java.nio.file.Path script = dir.resolve("batch.mjs");
        java.nio.file.Files.writeString(script, """
                import OpenAI from 'openai';
                import fs from 'node:fs';
                const client = new OpenAI({ baseURL: process.argv[2], apiKey: 'not-checked', maxRetries: 0 });
                const file = await client.files.create({ file: fs.createReadStream(process.argv[3]), purpose: 'batch' });
                let batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions',
                    completion_window: '24h', metadata: { client: 'node' } });
                for (let i = 0; i < 720 && !['completed', 'failed', 'expired', 'cancelled'].includes(batch.status); i++) {
                    await new Promise(r => setTimeout(r, 250));
                    batch = await client.batches.retrieve(batch.id);
                }
                const output = batch.output_file_id ? await (await client.files.content(batch.output_file_id)).text() : '';
                const listed = (await client.batches.list({ limit: 5 })).data.map(b => b.id);
                const described = await client.files.retrieve(file.id);
                console.log(JSON.stringify({ file: described, batch, output, listed }));
                """);
        String out = run(dir, 240, "node", script.toString(), server.uri("/v1").toString(), input.toString());
        JsonObject o = Json.createReader(
                        new StringReader(out.strip().lines().reduce((a, b) -> b).orElseThrow()))
                .readObject();
        assertEquals("batch", o.getJsonObject("file").getString("purpose"), out);
        JsonObject batch = o.getJsonObject("batch");
        assertEquals("completed", batch.getString("status"), out);
        assertEquals("node", batch.getJsonObject("metadata").getString("client"));
        assertEquals(2, batch.getJsonObject("request_counts").getInt("completed"), out);
        assertTrue(o.getJsonArray("listed").getString(0).equals(batch.getString("id")), out);
        java.util.Map<String, String> answers = new java.util.HashMap<>();
        for (String text : o.getString("output").split("\n")) {
            if (text.isBlank()) continue;
            JsonObject line = Json.createReader(new StringReader(text)).readObject();
            answers.put(
                    line.getString("custom_id"),
                    line.getJsonObject("response")
                            .getJsonObject("body")
                            .getJsonArray("choices")
                            .getJsonObject(0)
                            .getJsonObject("message")
                            .getString("content"));
        }
        assertEquals(liveChat(server, lines.get(0)), answers.get("node-1"), out);
        assertEquals(liveChat(server, lines.get(1)), answers.get("node-2"), out);
    }

    /** Runs a command in {@code dir}, failing the test on a non-zero exit; returns its output. */
    private static String run(java.nio.file.Path dir, int timeoutSeconds, String... command) throws Exception {
        java.nio.file.Path log = java.nio.file.Files.createTempFile(dir, "run", ".log");
        Process p = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        boolean done = p.waitFor(timeoutSeconds, java.util.concurrent.TimeUnit.SECONDS);
        if (!done) p.destroyForcibly();
        String output = java.nio.file.Files.readString(log, java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(done && p.exitValue() == 0, () -> String.join(" ", command) + " failed:\n" + output);
        return output;
    }

    private static void assertError(HttpResult r, int status, String messagePart) {
        assertEquals(status, r.status(), r::toString);
        if (messagePart == null) return;
        JsonObject error = r.json().getJsonObject("error");
        assertNotNull(error, r::toString);
        assertTrue(error.getString("message").contains(messagePart), r::toString);
    }
}
