package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** /v1/completions and /v1/models against the running server and its default model stories260k. */
@ExtendWith(AnvilServerExtension.class)
class OpenAiCompletionsIT {

    @Test
    void modelsListTheDefaultModel(AnvilServer server) {
        HttpResult list = server.get("/v1/models");
        assertEquals(200, list.status(), list::toString);
        JsonObject body = list.json();
        assertEquals("list", body.getString("object"));
        JsonObject model = body.getJsonArray("data").stream()
                .map(v -> v.asJsonObject())
                .filter(m -> m.getString("id").equals(OpenAi.MODEL))
                .findFirst()
                .orElseThrow(() -> new AssertionError("stories260k not listed: " + list));
        assertEquals("model", model.getString("object"));
        assertTrue(model.getJsonNumber("created").longValue() > 0, list::toString);
        assertFalse(model.getString("owned_by").isBlank(), list::toString);

        HttpResult one = server.get("/v1/models/" + OpenAi.MODEL);
        assertEquals(200, one.status(), one::toString);
        assertEquals(OpenAi.MODEL, one.json().getString("id"));
        HttpResult missing = server.get("/v1/models/no-such-model");
        assertEquals(404, missing.status(), missing::toString);
        assertEquals("model_not_found", missing.json().getJsonObject("error").getString("code"));
    }

    @Test
    void completionHasOpenAiShapeAndUsage(AnvilServer server) {
        HttpResult r = server.post("/v1/completions", OpenAi.completion("Once upon a time", 12, "\"temperature\":0"));
        assertEquals(200, r.status(), r::toString);
        assertTrue(r.contentType().startsWith("application/json"), r::toString);
        JsonObject body = r.json();
        assertTrue(body.getString("id").startsWith("cmpl-"), r::toString);
        assertEquals("text_completion", body.getString("object"));
        assertTrue(body.getJsonNumber("created").longValue() > 1_600_000_000L, r::toString);
        assertTrue(body.getString("model").startsWith(OpenAi.MODEL), r::toString);
        JsonArray choices = body.getJsonArray("choices");
        assertEquals(1, choices.size());
        JsonObject choice = choices.getJsonObject(0);
        assertEquals(0, choice.getInt("index"));
        assertEquals("length", choice.getString("finish_reason"), r::toString);
        assertFalse(choice.getString("text").isEmpty(), r::toString);
        assertTrue(choice.containsKey("logprobs") && choice.isNull("logprobs"), r::toString);
        JsonObject usage = body.getJsonObject("usage");
        assertEquals(12, usage.getInt("completion_tokens"), r::toString);
        assertTrue(usage.getInt("prompt_tokens") >= 4, r::toString);
        assertEquals(usage.getInt("prompt_tokens") + 12, usage.getInt("total_tokens"));
    }

    @Test
    void greedyAndSeededOutputIsDeterministic(AnvilServer server) {
        String greedy = OpenAi.completion("The little dog", 24, "\"temperature\":0");
        assertEquals(text(server, greedy), text(server, greedy));
        String seeded = OpenAi.completion("The little dog", 24, "\"temperature\":0.9,\"seed\":1234");
        assertEquals(text(server, seeded), text(server, seeded));

        // The stream carries the same text as the plain response.
        OpenAi.Stream stream = OpenAi.stream(
                server,
                "/v1/completions",
                OpenAi.completion("The little dog", 24, "\"temperature\":0.9,\"seed\":1234,\"stream\":true"),
                OpenAi.UNCACHED);
        assertEquals(text(server, seeded), stream.text(), stream::toString);
    }

    @Test
    void idsAreUniquePerResponse(AnvilServer server) {
        String body = OpenAi.completion("Hi", 2, "\"temperature\":0");
        assertNotEquals(
                server.post("/v1/completions", body).json().getString("id"),
                server.post("/v1/completions", body).json().getString("id"));
    }

    @Test
    void streamingCompletionSendsChunksUsageAndDone(AnvilServer server) {
        OpenAi.Stream s = OpenAi.stream(
                server,
                "/v1/completions",
                OpenAi.completion(
                        "Once upon a time",
                        16,
                        "\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
        assertEquals(200, s.status(), s::toString);
        assertTrue(s.contentType().startsWith("text/event-stream"), s::toString);
        assertTrue(s.done(), "stream must end with data: [DONE]: " + s);
        String id = s.events().getFirst().getString("id");
        assertTrue(id.startsWith("cmpl-"), s::toString);
        for (JsonObject e : s.events()) {
            assertEquals("text_completion", e.getString("object"), s::toString);
            assertEquals(id, e.getString("id"), "one id per response");
        }
        JsonObject usageChunk = s.last();
        assertTrue(usageChunk.getJsonArray("choices").isEmpty(), "the usage chunk has no choices: " + s);
        assertEquals(16, usageChunk.getJsonObject("usage").getInt("completion_tokens"), s::toString);
        JsonObject finish =
                s.events().get(s.events().size() - 2).getJsonArray("choices").getJsonObject(0);
        assertEquals("length", finish.getString("finish_reason"), s::toString);
        assertTrue(s.contentChunks() >= 1 && s.contentChunks() <= 16, s::toString);
        // Without include_usage there is no usage chunk.
        OpenAi.Stream plain = OpenAi.stream(
                server,
                "/v1/completions",
                OpenAi.completion("Once upon a time", 4, "\"temperature\":0,\"stream\":true"));
        assertTrue(plain.done(), plain::toString);
        assertTrue(
                plain.events().stream().noneMatch(e -> e.containsKey("usage") && !e.isNull("usage")), plain::toString);
    }

    @Test
    void stopStringsNAndLogprobs(AnvilServer server) {
        String full = text(server, OpenAi.completion("Once upon a time,", 30, "\"temperature\":0"));
        int period = full.indexOf('.');
        assertTrue(period > 0, "greedy stories260k text has a sentence end: " + full);
        HttpResult stopped = server.post(
                "/v1/completions",
                OpenAi.completion("Once upon a time,", 30, "\"temperature\":0,\"stop\":[\".\",\"zzz\"]"));
        JsonObject choice = stopped.json().getJsonArray("choices").getJsonObject(0);
        assertEquals(full.substring(0, period), choice.getString("text"), stopped::toString);
        assertEquals("stop", choice.getString("finish_reason"), stopped::toString);

        HttpResult n =
                server.post("/v1/completions", OpenAi.completion("Once", 5, "\"n\":3,\"seed\":9,\"logprobs\":2"));
        assertEquals(200, n.status(), n::toString);
        JsonArray choices = n.json().getJsonArray("choices");
        assertEquals(3, choices.size(), n::toString);
        assertEquals(15, n.json().getJsonObject("usage").getInt("completion_tokens"), n::toString);
        for (int i = 0; i < 3; i++) {
            JsonObject c = choices.getJsonObject(i);
            assertEquals(i, c.getInt("index"));
            JsonObject lp = c.getJsonObject("logprobs");
            assertEquals(5, lp.getJsonArray("tokens").size(), n::toString);
            assertEquals(5, lp.getJsonArray("token_logprobs").size(), n::toString);
            assertTrue(lp.getJsonArray("token_logprobs").getJsonNumber(0).doubleValue() <= 0, n::toString);
            assertTrue(lp.getJsonArray("top_logprobs").getJsonObject(0).size() >= 1, n::toString);
            assertEquals(0, lp.getJsonArray("text_offset").getInt(0), n::toString);
        }
    }

    @Test
    void tokenArrayPromptsAndSeveralPrompts(AnvilServer server) {
        HttpResult tokens = server.post(
                "/v1/completions",
                "{\"model\":\"stories260k\",\"prompt\":[1,403,407],\"max_tokens\":3,\"temperature\":0}");
        assertEquals(200, tokens.status(), tokens::toString);
        assertEquals(3, tokens.json().getJsonObject("usage").getInt("prompt_tokens"), tokens::toString);

        HttpResult two = server.post(
                "/v1/completions",
                "{\"model\":\"stories260k\",\"prompt\":[\"Once\",\"The cat\"],\"max_tokens\":3,\"temperature\":0,\"n\":2}");
        assertEquals(200, two.status(), two::toString);
        JsonArray choices = two.json().getJsonArray("choices");
        assertEquals(4, choices.size(), two::toString);
        for (int i = 0; i < 4; i++) assertEquals(i, choices.getJsonObject(i).getInt("index"), two::toString);
        assertEquals(12, two.json().getJsonObject("usage").getInt("completion_tokens"), two::toString);
    }

    @Test
    void echoPrependsThePromptText(AnvilServer server) {
        String generated = text(server, OpenAi.completion("Once upon a time", 6, "\"temperature\":0"));
        String echoed = text(server, OpenAi.completion("Once upon a time", 6, "\"temperature\":0,\"echo\":true"));
        assertEquals("Once upon a time" + generated, echoed);
    }

    /** The generated text, past the response cache: these tests are about the model's own output. */
    static String text(AnvilServer server, String body) {
        HttpResult r = OpenAi.postUncached(server, "/v1/completions", body);
        assertEquals(200, r.status(), r::toString);
        return r.json().getJsonArray("choices").getJsonObject(0).getString("text");
    }
}
