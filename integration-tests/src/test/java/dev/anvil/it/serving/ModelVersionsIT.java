package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerMetrics;
import dev.anvil.it.TestModel;
import jakarta.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Which version answers: {@code name@version} pins any registered version (loading it on first use), an
 * ARCHIVED or unknown version is refused with an OpenAI error, and a promotion switches new traffic to the new
 * version while a generation already running on the old one finishes in full.
 */
@ExtendWith(AnvilServerExtension.class)
class ModelVersionsIT {

    private static final String MODELS = "/api/registry/models";

    private static void register(AnvilServer server, String model, String version) {
        TestModel.register(server, model, version);
    }

    private static void stage(AnvilServer server, String model, String version, String stage) {
        HttpResult r = server.post(
                MODELS + "/" + model + "/versions/" + version + "/stage",
                "{\"stage\":\"" + stage + "\",\"reason\":\"ModelVersionsIT\"}");
        assertEquals(200, r.status(), r::toString);
    }

    /** A completion; a pinned {@code name@version} is sent with an admin's credentials, who may pin any version. */
    private static HttpResult complete(AnvilServer server, String model, int maxTokens) {
        return completeAs(
                server,
                model,
                maxTokens,
                model.contains("@") ? AnvilServer.basicAuth(AnvilServer.ADMIN_USER) : AnvilServer.ANONYMOUS);
    }

    private static HttpResult completeAs(AnvilServer server, String model, int maxTokens, String authorization) {
        return server.request(
                "POST",
                "/v1/completions",
                "{\"model\":" + OpenAi.quote(model) + ",\"prompt\":\"Once upon a time\",\"max_tokens\":" + maxTokens
                        + ",\"temperature\":0}",
                java.util.Map.of("Content-Type", "application/json", "Authorization", authorization));
    }

    private static void assertOpenAiError(HttpResult r, int status, String code) {
        assertEquals(status, r.status(), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        assertEquals("model", error.getString("param"), r::toString);
        if (code != null) assertEquals(code, error.getString("code"), r::toString);
        assertTrue(error.getString("message").length() > 20, r::toString);
    }

    private static String unique(TestInfo info) {
        return "mv-"
                + info.getTestMethod()
                        .orElseThrow()
                        .getName()
                        .toLowerCase()
                        .replaceAll("[^a-z]", "")
                        .substring(0, 12);
    }

    @Test
    void aPinnedVersionThatIsNotLoadedIsLoadedOnFirstUse(AnvilServer server, TestInfo info) {
        String model = unique(info);
        register(server, model, "1.0.0");
        register(server, model, "1.1.0");
        stage(server, model, "1.1.0", "STAGING");
        // Neither version is PRODUCTION, so neither is loaded: the plain name is not served...
        assertOpenAiError(complete(server, model, 4), 404, "model_not_found");
        // A caller without the right to pin versions its name does not serve is refused, and nothing is loaded for
        // it...
        HttpResult refused = completeAs(server, model + "@1.1.0", 4, AnvilServer.ANONYMOUS);
        assertOpenAiError(refused, 403, "version_pin_not_allowed");
        assertTrue(
                !ServerMetrics.application(server)
                        .contains("anvil_inference_kv_blocks_used", "model=\"" + model + "\""),
                "a refused pin loads nothing");
        // ...but for an admin each registered version answers when pinned, loaded on demand.
        for (String version : new String[] {"1.0.0", "1.1.0"}) {
            HttpResult r = complete(server, model + "@" + version, 8);
            assertEquals(200, r.status(), r::toString);
            assertEquals(model + "@" + version, r.json().getString("model"), r::toString);
            assertEquals(8, r.json().getJsonObject("usage").getInt("completion_tokens"), r::toString);
        }
        // The same file under the same settings gives the same greedy text as the default model.
        String pinned = complete(server, model + "@1.0.0", 12)
                .json()
                .getJsonArray("choices")
                .getJsonObject(0)
                .getString("text");
        String served = complete(server, OpenAi.MODEL, 12)
                .json()
                .getJsonArray("choices")
                .getJsonObject(0)
                .getString("text");
        assertEquals(served, pinned);

        assertOpenAiError(complete(server, model + "@9.9.9", 4), 404, "model_not_found");
        stage(server, model, "1.0.0", "ARCHIVED");
        HttpResult archived = complete(server, model + "@1.0.0", 4);
        assertOpenAiError(archived, 400, null);
        assertTrue(
                archived.json().getJsonObject("error").getString("message").contains("ARCHIVED"), archived::toString);
    }

    @Test
    void promotionSwitchesNewTrafficWhileTheOldVersionFinishesInFlightWork(AnvilServer server, TestInfo info)
            throws Exception {
        String model = unique(info);
        register(server, model, "1.0.0");
        register(server, model, "2.0.0");
        stage(server, model, "1.0.0", "PRODUCTION");
        HttpResult first = pollUntilServed(server, model, "1.0.0");
        assertEquals(model + "@1.0.0", first.json().getString("model"), first::toString);

        // A long generation on 1.0.0, then the promotion of 2.0.0 while it runs.
        // A long streamed generation on 1.0.0, read up to its first chunk (so it is certainly running there), then
        // the promotion of 2.0.0 while it runs.
        String body = "{\"model\":" + OpenAi.quote(model) + ",\"prompt\":\"Once upon a time\",\"max_tokens\":400,"
                + "\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
        HttpResponse<InputStream> response = OpenAi.open(server, "/v1/completions", body);
        assertEquals(200, response.statusCode());
        try (BufferedReader reader =
                new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            JsonObject opening = nextChunk(reader);
            assertEquals(model + "@1.0.0", opening.getString("model"), opening::toString);

            stage(server, model, "2.0.0", "STAGING");
            stage(server, model, "2.0.0", "PRODUCTION");
            HttpResult after = pollUntilServed(server, model, "2.0.0");
            assertEquals(model + "@2.0.0", after.json().getString("model"), after::toString);

            // The in-flight stream stays on the version it started on and runs to its end.
            String finish = null;
            JsonObject usage = null;
            for (JsonObject chunk; (chunk = nextChunk(reader)) != null; ) {
                assertEquals(
                        model + "@1.0.0",
                        chunk.getString("model"),
                        "the in-flight request stays on the version it started on");
                if (!chunk.getJsonArray("choices").isEmpty()
                        && !chunk.getJsonArray("choices").getJsonObject(0).isNull("finish_reason")) {
                    finish = chunk.getJsonArray("choices").getJsonObject(0).getString("finish_reason");
                }
                if (chunk.containsKey("usage") && !chunk.isNull("usage")) usage = chunk.getJsonObject("usage");
            }
            assertEquals("length", finish);
            assertEquals(400, usage == null ? -1 : usage.getInt("completion_tokens"), String.valueOf(usage));
        }
    }

    /** The next {@code data: {...}} event of an SSE stream, or null at {@code [DONE]} or the end of the stream. */
    private static JsonObject nextChunk(BufferedReader reader) throws IOException {
        for (String line; (line = reader.readLine()) != null; ) {
            if (!line.startsWith("data:")) continue;
            String data = line.substring(5).trim();
            return data.equals("[DONE]") ? null : OpenAi.json(data);
        }
        return null;
    }

    /** Sends small requests until {@code model} is answered by {@code version} (loading and switching are asynchronous). */
    private static HttpResult pollUntilServed(AnvilServer server, String model, String version)
            throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        HttpResult last = null;
        while (System.nanoTime() < deadline) {
            last = complete(server, model, 2);
            if (last.status() == 200 && last.json().getString("model").equals(model + "@" + version)) return last;
            Thread.sleep(100);
        }
        throw new AssertionError(model + " was not served by " + version + " within 60 s; last answer " + last);
    }
}
