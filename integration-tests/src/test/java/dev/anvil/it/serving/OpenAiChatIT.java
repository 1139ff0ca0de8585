package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import jakarta.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** /v1/chat/completions: stories260k has no chat template, so the fallback transcript is used. */
@ExtendWith(AnvilServerExtension.class)
class OpenAiChatIT {

    @Test
    void chatCompletionHasOpenAiShape(AnvilServer server) {
        HttpResult r = server.post("/v1/chat/completions", """
                {"model":"stories260k","messages":[{"role":"system","content":"Tell stories."},
                 {"role":"user","content":[{"type":"text","text":"A story "},{"type":"text","text":"please"}]}],
                 "max_completion_tokens":10,"temperature":0,"user":"it-user"}""");
        assertEquals(200, r.status(), r::toString);
        JsonObject body = r.json();
        assertTrue(body.getString("id").startsWith("chatcmpl-"), r::toString);
        assertEquals("chat.completion", body.getString("object"));
        JsonObject choice = body.getJsonArray("choices").getJsonObject(0);
        assertEquals("assistant", choice.getJsonObject("message").getString("role"));
        assertFalse(choice.getJsonObject("message").getString("content").isEmpty(), r::toString);
        assertEquals("length", choice.getString("finish_reason"), r::toString);
        JsonObject usage = body.getJsonObject("usage");
        assertEquals(10, usage.getInt("completion_tokens"), r::toString);
        // "Tell stories.\n\nUser: A story please\nAssistant:" plus BOS is far more than a handful of tokens.
        assertTrue(usage.getInt("prompt_tokens") > 10, r::toString);
    }

    @Test
    void streamingChatStartsWithRoleAndEndsWithFinishReason(AnvilServer server) {
        OpenAi.Stream s = OpenAi.stream(
                server,
                "/v1/chat/completions",
                OpenAi.chat(
                        "Tell me a story",
                        12,
                        "\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
        assertEquals(200, s.status(), s::toString);
        assertTrue(s.done(), s::toString);
        List<JsonObject> events = s.events();
        for (JsonObject e : events) assertEquals("chat.completion.chunk", e.getString("object"), s::toString);
        JsonObject first = events.getFirst().getJsonArray("choices").getJsonObject(0);
        assertEquals("assistant", first.getJsonObject("delta").getString("role"), s::toString);
        JsonObject finish =
                events.get(events.size() - 2).getJsonArray("choices").getJsonObject(0);
        assertEquals("length", finish.getString("finish_reason"), s::toString);
        JsonObject usage = s.last().getJsonObject("usage");
        assertEquals(12, usage.getInt("completion_tokens"), s::toString);
        assertTrue(s.last().getJsonArray("choices").isEmpty(), s::toString);

        HttpResult plain = OpenAi.postUncached(
                server, "/v1/chat/completions", OpenAi.chat("Tell me a story", 12, "\"temperature\":0"));
        assertEquals(
                plain.json()
                        .getJsonArray("choices")
                        .getJsonObject(0)
                        .getJsonObject("message")
                        .getString("content"),
                s.text(),
                "streamed and plain greedy answers agree");
    }

    @Test
    void chatIsDeterministicWithSeed(AnvilServer server) {
        String body = OpenAi.chat("Hello", 20, "\"temperature\":1.0,\"seed\":77");
        assertEquals(content(server, body), content(server, body));
    }

    @Test
    void chatLogprobs(AnvilServer server) {
        HttpResult r = server.post(
                "/v1/chat/completions", OpenAi.chat("Hi", 4, "\"temperature\":0,\"logprobs\":true,\"top_logprobs\":3"));
        assertEquals(200, r.status(), r::toString);
        var content = r.json()
                .getJsonArray("choices")
                .getJsonObject(0)
                .getJsonObject("logprobs")
                .getJsonArray("content");
        assertEquals(4, content.size(), r::toString);
        JsonObject token = content.getJsonObject(0);
        assertTrue(token.getJsonNumber("logprob").doubleValue() <= 0, r::toString);
        assertEquals(3, token.getJsonArray("top_logprobs").size(), r::toString);
        assertFalse(token.getJsonArray("bytes").isEmpty(), r::toString);
    }

    /** The generated content, past the response cache: these tests are about the model's own output. */
    static String content(AnvilServer server, String body) {
        HttpResult r = OpenAi.postUncached(server, "/v1/chat/completions", body);
        assertEquals(200, r.status(), r::toString);
        return r.json()
                .getJsonArray("choices")
                .getJsonObject(0)
                .getJsonObject("message")
                .getString("content");
    }
}
