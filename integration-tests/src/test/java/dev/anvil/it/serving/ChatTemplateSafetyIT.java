package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A chat template is code that comes with a model file; the messages are data. Against the real server: Jinja syntax
 * in a message reaches the model as written (its prompt has exactly the tokens of the literal text), a template that
 * runs away on some conversations fails those requests quickly with a clear error while the server keeps serving,
 * and a template that is broken is refused when the model is registered.
 */
@ExtendWith(AnvilServerExtension.class)
class ChatTemplateSafetyIT {

    private static final List<String> JINJA_LOOKALIKES = List.of(
            "{{ 7*7 }}",
            "{% for x in range(3) %}y{% endfor %}",
            "{# note #}",
            "{{ raise_exception('boom') }}",
            "{% include 'META-INF/MANIFEST.MF' %}");

    /** Frames each message; hostile when a conversation has 4 (nested loops) or 5 (string doubling) messages. */
    private static final String TIME_BOMB = """
            {%- if messages|length == 4 -%}
            {%- for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{% endfor %}{% endfor %}{% endfor -%}
            {%- elif messages|length == 5 -%}
            {%- set ns = namespace(s=messages[0]['content']) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}
            {%- endif -%}
            {%- for m in messages %}[{{ m['role'] }}] {{ m['content'] }}
            {% endfor %}[assistant]""";

    private static HttpResult chat(AnvilServer server, String model, List<String> contents) {
        JsonArrayBuilder messages = Json.createArrayBuilder();
        for (int i = 0; i < contents.size(); i++) {
            messages.add(Json.createObjectBuilder()
                    .add("role", i % 2 == 0 ? "user" : "assistant")
                    .add("content", contents.get(i)));
        }
        String body = Json.createObjectBuilder()
                .add("model", model)
                .add("messages", messages)
                .add("max_tokens", 1)
                .add("temperature", 0)
                .build()
                .toString();
        // The test models are registered, not promoted: their versions are pinned, as an admin may.
        return server.request("POST", "/v1/chat/completions", body, OpenAi.UNCACHED_AS_ADMIN);
    }

    private static int promptTokens(HttpResult r) {
        assertEquals(200, r.status(), r::toString);
        return r.json().getJsonObject("usage").getInt("prompt_tokens");
    }

    private static void register(AnvilServer server, String model, Path file, int expectedStatus) {
        HttpResult r = server.post(
                "/api/registry/models/" + model + "/versions",
                Json.createObjectBuilder()
                        .add("version", "1.0.0")
                        .add("path", file.toString())
                        .build()
                        .toString());
        assertEquals(expectedStatus, r.status(), r::toString);
    }

    @Test
    void jinjaSyntaxInAMessageReachesTheModelAsWritten(AnvilServer server) {
        // stories260k has no template: the fallback transcript "User: ...\nAssistant:".
        for (String text : JINJA_LOOKALIKES) {
            int expected = TemplatedModels.promptTokens("User: " + text + "\nAssistant:");
            assertEquals(expected, promptTokens(chat(server, OpenAi.MODEL, List.of(text))), text);
        }
        // What the old renderer made of the first one ("49") is a different prompt.
        assertNotEquals(
                TemplatedModels.promptTokens("User: {{ 7*7 }}\nAssistant:"),
                TemplatedModels.promptTokens("User: 49\nAssistant:"));

        // The same through a model's own Jinja template.
        Path framed = TemplatedModels.write(
                "ct-framed",
                "{% for m in messages %}<<{{ m['role'] }}>>{{ m['content'] }}{% endfor %}"
                        + "{% if add_generation_prompt %}<<assistant>>{% endif %}");
        register(server, "ct-framed", framed, 201);
        for (String text : JINJA_LOOKALIKES) {
            int expected = TemplatedModels.promptTokens("<<user>>" + text + "<<assistant>>");
            assertEquals(expected, promptTokens(chat(server, "ct-framed@1.0.0", List.of(text))), text);
        }
    }

    @Test
    void aRunawayTemplateFailsItsRequestQuicklyAndTheServerKeepsServing(AnvilServer server) {
        register(server, "ct-bomb", TemplatedModels.write("ct-bomb", TIME_BOMB), 201);
        // First use loads the version; an ordinary conversation renders and generates.
        assertEquals(
                TemplatedModels.promptTokens("[user] hello\n[assistant]"),
                promptTokens(chat(server, "ct-bomb@1.0.0", List.of("hello"))));

        for (List<String> conversation :
                List.of(List.of("a", "b", "c", "d"), List.of("double me", "b", "c", "d", "e"))) {
            long t0 = System.nanoTime();
            HttpResult r = chat(server, "ct-bomb@1.0.0", conversation);
            long millis = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(500, r.status(), r::toString);
            JsonObject error = r.json().getJsonObject("error");
            assertEquals("chat_template_limit_exceeded", error.getString("code"), r::toString);
            assertEquals("server_error", error.getString("type"), r::toString);
            String message = error.getString("message");
            assertTrue(message.contains("ct-bomb@1.0.0") && message.contains("anvil.serving.chat-template."), message);
            // Default limit 2 s of render time; the rest is a busy test machine.
            assertTrue(millis < 20_000, conversation.size() + " messages took " + millis + " ms: " + message);
        }

        // The thread was freed and nothing was left behind: the same model and the default one still answer.
        assertEquals(
                TemplatedModels.promptTokens("[user] again\n[assistant]"),
                promptTokens(chat(server, "ct-bomb@1.0.0", List.of("again"))));
        assertEquals(200, chat(server, OpenAi.MODEL, List.of("Tell me a story")).status());
        assertEquals(200, server.get("/health/ready").status());
    }

    @Test
    void aBrokenTemplateIsRefusedAtRegistration(AnvilServer server) {
        Path broken = TemplatedModels.write("ct-broken", "{% for m in messages %}{{ m['content'] }}");
        HttpResult r = server.post(
                "/api/registry/models/ct-broken/versions",
                Json.createObjectBuilder()
                        .add("version", "1.0.0")
                        .add("path", broken.toString())
                        .build()
                        .toString());
        assertEquals(400, r.status(), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        assertEquals("invalid_chat_template", error.getString("code"), r::toString);
        assertEquals("path", error.getString("param"), r::toString);
        String message = error.getString("message");
        assertTrue(message.contains("tokenizer.chat_template") && message.contains("Missing end tag: endfor"), message);
        // Nothing was registered.
        assertEquals(404, server.get("/api/registry/models/ct-broken").status());

        // A template that only refuses on purpose (raise_exception) for some conversations is fine.
        Path strict = TemplatedModels.write(
                "ct-strict",
                "{% for m in messages %}{% if m['role'] == 'system' %}"
                        + "{{ raise_exception('System role not supported') }}{% endif %}{{ m['content'] }}{% endfor %}");
        register(server, "ct-strict", strict, 201);
        HttpResult refused = server.request(
                "POST",
                "/v1/chat/completions",
                "{\"model\":\"ct-strict@1.0.0\",\"max_tokens\":1,\"messages\":"
                        + "[{\"role\":\"system\",\"content\":\"x\"},{\"role\":\"user\",\"content\":\"y\"}]}",
                OpenAi.UNCACHED_AS_ADMIN);
        assertEquals(400, refused.status(), refused::toString);
        assertTrue(
                refused.json().getJsonObject("error").getString("message").contains("System role not supported"),
                refused::toString);
    }
}
