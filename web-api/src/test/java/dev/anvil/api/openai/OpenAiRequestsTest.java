package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.api.ApiException;
import dev.anvil.serving.chat.ChatMessage;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.ByteArrayInputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Request validation (each bad value names its param) and the JSON shapes clients parse. */
class OpenAiRequestsTest {

    private static JsonObject json(String text) {
        return Json.createReader(new StringReader(text)).readObject();
    }

    private static ApiException rejected(String body) {
        return assertThrows(ApiException.class, () -> {
            JsonObject o = json(body);
            if (o.containsKey("messages")) ChatRequest.parse(o);
            else CompletionRequest.parse(o);
        });
    }

    @Test
    void completionRequestDefaultsAndValues() {
        CompletionRequest r = CompletionRequest.parse(json("""
                {"model":"m","prompt":"Once","max_tokens":5,"temperature":0,"top_p":0.5,"seed":7,"stop":"x",
                 "n":2,"logprobs":3,"presence_penalty":1,"frequency_penalty":-1,"user":"u1",
                 "stream":true,"stream_options":{"include_usage":true}}"""));
        GenerationOptions o = r.options();
        assertEquals("m", o.model());
        assertEquals(5, o.maxTokens());
        assertEquals(0f, o.sampling().temperature());
        assertEquals(0.5f, o.sampling().topP());
        assertEquals(7L, o.sampling().seed());
        assertEquals(1f, o.sampling().presencePenalty());
        assertEquals(-1f, o.sampling().frequencyPenalty());
        assertEquals(List.of("x"), o.stop());
        assertEquals(2, o.n());
        assertEquals(3, r.logprobs());
        assertTrue(o.stream());
        assertTrue(o.includeUsage());
        assertEquals("u1", o.user());
        assertEquals("Once", r.prompts().getFirst().text());

        CompletionRequest d = CompletionRequest.parse(json("{\"model\":\"m\",\"prompt\":\"\"}"));
        assertNull(d.options().maxTokens());
        assertEquals(1, d.options().n());
        assertEquals(1f, d.options().sampling().temperature());
        assertFalse(d.options().stream());
        assertNull(d.logprobs());
    }

    @Test
    void promptFormats() {
        assertArrayEquals(
                new int[] {1, 2, 3},
                CompletionRequest.parse(json("{\"model\":\"m\",\"prompt\":[1,2,3]}"))
                        .prompts()
                        .getFirst()
                        .tokens());
        List<CompletionRequest.Prompt> many = CompletionRequest.parse(
                        json("{\"model\":\"m\",\"prompt\":[\"a\",[4,5]]}"))
                .prompts();
        assertEquals("a", many.get(0).text());
        assertArrayEquals(new int[] {4, 5}, many.get(1).tokens());
        assertEquals(
                "prompt", rejected("{\"model\":\"m\",\"prompt\":[1,\"x\"]}").param());
        assertEquals("prompt", rejected("{\"model\":\"m\",\"prompt\":[]}").param());
        assertEquals("prompt", rejected("{\"model\":\"m\",\"prompt\":{}}").param());
    }

    @Test
    void invalidValuesNameTheirParam() {
        assertEquals(
                "temperature",
                rejected("{\"model\":\"m\",\"prompt\":\"p\",\"temperature\":2.5}")
                        .param());
        assertEquals(
                "temperature",
                rejected("{\"model\":\"m\",\"prompt\":\"p\",\"temperature\":-0.1}")
                        .param());
        assertEquals(
                "temperature",
                rejected("{\"model\":\"m\",\"prompt\":\"p\",\"temperature\":\"hot\"}")
                        .param());
        assertEquals(
                "top_p",
                rejected("{\"model\":\"m\",\"prompt\":\"p\",\"top_p\":0}").param());
        assertEquals(
                "top_p",
                rejected("{\"model\":\"m\",\"prompt\":\"p\",\"top_p\":1.01}").param());
        assertEquals("n", rejected("{\"model\":\"m\",\"prompt\":\"p\",\"n\":0}").param());
        assertEquals(
                "n", rejected("{\"model\":\"m\",\"prompt\":\"p\",\"n\":1.5}").param());
        assertEquals(
                "max_tokens",
                rejected("{\"model\":\"m\",\"prompt\":\"p\",\"max_tokens\":0}").param());
        assertEquals(
                "stop",
                rejected("{\"model\":\"m\",\"prompt\":\"p\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}")
                        .param());
        assertEquals(
                "stop",
                rejected("{\"model\":\"m\",\"prompt\":\"p\",\"stop\":[1]}").param());
        assertEquals("prompt", rejected("{\"model\":\"m\"}").param());
        assertEquals("model", rejected("{\"prompt\":\"p\"}").param());
        assertEquals(
                "logprobs",
                rejected("{\"model\":\"m\",\"prompt\":\"p\",\"logprobs\":21}").param());
        assertEquals(
                "presence_penalty",
                rejected("{\"model\":\"m\",\"prompt\":\"p\",\"presence_penalty\":3}")
                        .param());
        assertEquals(
                "stream_options",
                rejected("{\"model\":\"m\",\"prompt\":\"p\",\"stream_options\":{\"include_usage\":true}}")
                        .param());
        ApiException e = rejected("{\"model\":\"m\",\"prompt\":\"p\",\"temperature\":3}");
        assertEquals(400, e.status());
        assertEquals("'temperature' must be between 0 and 2, got 3", e.getMessage());
    }

    @Test
    void chatRequestMessagesAndErrors() {
        ChatRequest r = ChatRequest.parse(json("""
                {"model":"m","messages":[{"role":"developer","content":"Be brief."},
                 {"role":"user","content":[{"type":"text","text":"Hi "},{"type":"text","text":"there"}]},
                 {"role":"assistant","content":null}],
                 "max_tokens":9,"max_completion_tokens":4,"logprobs":true,"top_logprobs":2}"""));
        assertEquals(
                List.of(
                        new ChatMessage("system", "Be brief."),
                        new ChatMessage("user", "Hi there"),
                        new ChatMessage("assistant", "")),
                r.messages());
        assertEquals(4, r.options().maxTokens(), "max_completion_tokens wins over max_tokens");
        assertTrue(r.logprobs());
        assertEquals(2, r.topLogprobs());

        assertEquals("messages", rejected("{\"model\":\"m\",\"messages\":[]}").param());
        assertEquals(
                "messages",
                assertThrows(ApiException.class, () -> ChatRequest.parse(json("{\"model\":\"m\"}")))
                        .param());
        assertEquals(
                "messages[0].role",
                rejected("{\"model\":\"m\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}")
                        .param());
        assertEquals(
                "messages[0].content",
                rejected("{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}").param());
        assertEquals(
                "messages[0].content[0].type",
                rejected("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}")
                        .param());
        assertEquals(
                "top_logprobs",
                rejected("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":2}")
                        .param());
        assertEquals(
                "max_completion_tokens",
                rejected(
                                "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":0}")
                        .param());
    }

    @Test
    void bodyLimitIsEnforcedBeforeParsing() {
        byte[] big = ("{\"model\":\"m\",\"prompt\":\"" + "x".repeat(200) + "\"}").getBytes(StandardCharsets.UTF_8);
        ApiException declared = assertThrows(
                ApiException.class,
                () -> RequestBodies.readObject(new ByteArrayInputStream(big), String.valueOf(big.length), 100));
        assertEquals(413, declared.status());
        // Without Content-Length (chunked), reading stops at the limit.
        ApiException chunked = assertThrows(
                ApiException.class, () -> RequestBodies.readObject(new ByteArrayInputStream(big), null, 100));
        assertEquals(413, chunked.status());
        ApiException malformed = assertThrows(
                ApiException.class,
                () -> RequestBodies.readObject(
                        new ByteArrayInputStream("{\"model\":".getBytes(StandardCharsets.UTF_8)), null, 100));
        assertEquals(400, malformed.status());
        assertEquals("invalid_json", malformed.code());
        ApiException notObject = assertThrows(
                ApiException.class,
                () -> RequestBodies.readObject(
                        new ByteArrayInputStream("[1]".getBytes(StandardCharsets.UTF_8)), null, 100));
        assertEquals("invalid_json", notObject.code());
    }

    @Test
    void chunkJsonShapes() {
        String role = OpenAiJson.toJson(new OpenAiJson.Answer<>(
                "chatcmpl-1",
                "chat.completion.chunk",
                5,
                "m@1",
                null,
                List.of(new OpenAiJson.ChatChunkChoice(0, new OpenAiJson.Delta("assistant", ""), null, null)),
                null));
        JsonObject o = json(role);
        assertEquals("chat.completion.chunk", o.getString("object"));
        JsonObject choice = o.getJsonArray("choices").getJsonObject(0);
        assertEquals("assistant", choice.getJsonObject("delta").getString("role"));
        assertTrue(choice.containsKey("finish_reason") && choice.isNull("finish_reason"), role);
        assertTrue(choice.containsKey("logprobs") && choice.isNull("logprobs"), role);

        String content =
                OpenAiJson.toJson(new OpenAiJson.ChatChunkChoice(0, new OpenAiJson.ContentDelta("Hi"), null, null));
        assertEquals(1, json(content).getJsonObject("delta").size(), "a content delta has no role key: " + content);

        String last = OpenAiJson.toJson(new OpenAiJson.Answer<>(
                "chatcmpl-1",
                "chat.completion.chunk",
                5,
                "m@1",
                null,
                List.of(new OpenAiJson.ChatChunkChoice(0, new OpenAiJson.EmptyDelta(), null, "length")),
                null));
        JsonObject finish = json(last).getJsonArray("choices").getJsonObject(0);
        assertEquals("length", finish.getString("finish_reason"));
        assertEquals(0, finish.getJsonObject("delta").size(), last);

        String usage = OpenAiJson.toJson(new OpenAiJson.Answer<>(
                "cmpl-1", "text_completion", 5, "m@1", null, List.of(), OpenAiJson.Usage.of(3, 4, 2)));
        JsonObject u = json(usage).getJsonObject("usage");
        assertEquals(2, u.getJsonObject("prompt_tokens_details").getInt("cached_tokens"), usage);
        assertEquals(7, u.getInt("total_tokens"));
        assertEquals(3, u.getInt("prompt_tokens"));
        assertEquals(4, u.getInt("completion_tokens"));

        String plain = OpenAiJson.toJson(new OpenAiJson.CompletionChoice("x", 0, null, "stop"));
        assertTrue(json(plain).isNull("logprobs"), plain);
    }
}
