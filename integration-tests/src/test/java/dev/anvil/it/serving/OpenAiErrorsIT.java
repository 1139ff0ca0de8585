package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import jakarta.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Every error of the OpenAI-compatible API: status, OpenAI-style body, param and code. */
@ExtendWith(AnvilServerExtension.class)
class OpenAiErrorsIT {

    private static JsonObject error(HttpResult r, int status) {
        assertEquals(status, r.status(), r::toString);
        assertTrue(r.contentType().startsWith("application/json"), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        for (String key : new String[] {"message", "type", "param", "code"}) {
            assertTrue(error.containsKey(key), "error." + key + " missing: " + r);
        }
        return error;
    }

    private static void badParam(AnvilServer server, String path, String body, String param) {
        JsonObject e = error(server.post(path, body), 400);
        assertEquals("invalid_request_error", e.getString("type"));
        assertEquals(param, e.getString("param"), () -> body + " -> " + e);
    }

    @Test
    void malformedJsonIs400(AnvilServer server) {
        JsonObject e = error(server.post("/v1/chat/completions", "{\"model\": \"stories260k\", \"messages\": ["), 400);
        assertEquals("invalid_json", e.getString("code"));
        assertEquals(
                "invalid_json",
                error(server.post("/v1/completions", "[1,2]"), 400).getString("code"));
    }

    @Test
    void unknownModelIs404(AnvilServer server) {
        JsonObject e = error(server.post("/v1/completions", "{\"model\":\"gpt-17\",\"prompt\":\"hi\"}"), 404);
        assertEquals("model_not_found", e.getString("code"));
        assertEquals("model", e.getString("param"));
        // A pinned version that does not exist (pinned by an admin, who may pin any version).
        assertEquals(
                "model_not_found",
                error(
                                server.request(
                                        "POST",
                                        "/v1/chat/completions",
                                        "{\"model\":\"stories260k@9.9.9\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                                        java.util.Map.of(
                                                "Content-Type",
                                                "application/json",
                                                "Authorization",
                                                AnvilServer.basicAuth(AnvilServer.ADMIN_USER))),
                                404)
                        .getString("code"));
        // A streaming request fails the same way, before any event is sent.
        OpenAi.Stream s =
                OpenAi.stream(server, "/v1/completions", "{\"model\":\"gpt-17\",\"prompt\":\"hi\",\"stream\":true}");
        assertEquals(404, s.status(), s::toString);
        assertTrue(s.errorBody().contains("model_not_found"), s::toString);
    }

    @Test
    void promptLongerThanTheContextIs400(AnvilServer server) {
        String longPrompt = "the cat sat on the mat and ".repeat(400);
        JsonObject e = error(server.post("/v1/completions", OpenAi.completion(longPrompt, 8, "")), 400);
        assertEquals("context_length_exceeded", e.getString("code"));
        assertEquals("prompt", e.getString("param"));
        JsonObject chat = error(server.post("/v1/chat/completions", OpenAi.chat(longPrompt, 8, "")), 400);
        assertEquals("context_length_exceeded", chat.getString("code"));
        assertEquals("messages", chat.getString("param"));
        // Prompt plus max_tokens beyond the context names max_tokens.
        JsonObject max = error(server.post("/v1/completions", OpenAi.completion("Hi", 100_000, "")), 400);
        assertEquals("context_length_exceeded", max.getString("code"));
        assertEquals("max_tokens", max.getString("param"));
    }

    @Test
    void invalidParametersNameTheParam(AnvilServer server) {
        String c = "/v1/completions";
        String chat = "/v1/chat/completions";
        badParam(server, c, OpenAi.completion("x", 4, "\"temperature\":2.5"), "temperature");
        badParam(server, c, OpenAi.completion("x", 4, "\"temperature\":-1"), "temperature");
        badParam(server, c, OpenAi.completion("x", 4, "\"top_p\":0"), "top_p");
        badParam(server, c, OpenAi.completion("x", 4, "\"top_p\":1.5"), "top_p");
        badParam(server, c, OpenAi.completion("x", 4, "\"n\":0"), "n");
        badParam(server, c, OpenAi.completion("x", 4, "\"n\":1000"), "n");
        badParam(server, c, OpenAi.completion("x", 0, ""), "max_tokens");
        badParam(server, c, OpenAi.completion("x", 4, "\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]"), "stop");
        badParam(server, c, "{\"model\":\"stories260k\",\"max_tokens\":4}", "prompt");
        badParam(server, c, OpenAi.completion("x", 4, "\"logprobs\":50"), "logprobs");
        badParam(server, chat, "{\"model\":\"stories260k\",\"max_tokens\":4}", "messages");
        badParam(
                server,
                chat,
                "{\"model\":\"stories260k\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
                "messages[0].role");
        badParam(server, chat, OpenAi.chat("x", 4, "\"presence_penalty\":5"), "presence_penalty");
        badParam(server, chat, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model");
    }

    @Test
    void bodyOverTheLimitIs413(AnvilServer server) {
        // Default limit 4 MiB (anvil.api.max-body-bytes): a 5 MiB prompt is refused before it is parsed.
        String huge = OpenAi.completion("a".repeat(5 * 1024 * 1024), 4, "");
        JsonObject e = error(server.post("/v1/completions", huge), 413);
        assertEquals("request_too_large", e.getString("code"));
    }
}
