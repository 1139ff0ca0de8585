package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.anvil.engine.GgufFile;
import dev.anvil.engine.GgufWriter;
import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import dev.anvil.it.TestModel;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * OpenAI tool calling on the running server, with a model whose chat template has tools: stories260K's weights with
 * Qwen 2.5's template (Hermes-style {@code <tool_call>} syntax) and a longer context (Qwen's tool prompt alone is ~570 of
 * its tokens). The tools and the tool turns reach the model exactly as Hugging Face renders them, {@code tool_choice
 * none} answers in text, and bad tools are 400s naming their param.
 */
@ExtendWith(AnvilServerExtension.class)
class ToolCallingIT {

    static final String MODEL = "it-qwen-tools";
    static final Path TEMPLATES = Path.of(
                    System.getProperty("anvil.shared.dir", "../../shared"), "reference/chat-templates")
            .toAbsolutePath()
            .normalize();
    static boolean registered;

    static final String WEATHER = """
            {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city.",
             "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The name of the city"}},
             "required": ["city"]}}}""";

    static synchronized void serve(AnvilServer server) {
        if (registered) return;
        Path file;
        try {
            String template = Files.readString(TEMPLATES.resolve("Qwen-Qwen2.5-7B-Instruct.jinja"));
            Path dir =
                    Files.createDirectories(Path.of("target", "chat-templates").toAbsolutePath());
            try (GgufFile in = GgufFile.open(TemplatedModels.STORIES)) {
                file = GgufWriter.copy(
                        in,
                        dir.resolve(MODEL + ".gguf"),
                        Map.of("tokenizer.chat_template", template, "llama.context_length", 4096));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        HttpResult r = server.post(
                "/api/registry/models/" + MODEL + "/versions",
                Json.createObjectBuilder()
                        .add("version", "1.0.0")
                        .add("path", file.toString())
                        .build()
                        .toString());
        assertEquals(201, r.status(), r::toString);
        TestModel.moveStage(server, MODEL, "1.0.0", "PRODUCTION", "tool calling IT");
        registered = true;
    }

    static JsonObject json(String text) {
        try (JsonReader r = Json.createReader(new StringReader(text))) {
            return r.readObject();
        }
    }

    static HttpResult chat(AnvilServer server, String messages, String extra) {
        String body = "{\"model\":\"" + MODEL + "\",\"messages\":" + messages + ",\"temperature\":0" + extra + "}";
        return server.request("POST", "/v1/chat/completions", body, OpenAi.UNCACHED);
    }

    static final String ASK = "[{\"role\":\"user\",\"content\":\"What's the weather like in Paris today?\"}]";

    @Test
    void toolsAndToolTurnsReachTheModelAsItsTemplateRendersThem(AnvilServer server) throws IOException {
        serve(server);
        // The reference renderings of Qwen 2.5's template (Hugging Face's apply_chat_template): the prompt the server
        // tokenized has exactly as many tokens as the reference text.
        for (String line :
                Files.readAllLines(TEMPLATES.resolve("Qwen-Qwen2.5-7B-Instruct.cases.jsonl"), StandardCharsets.UTF_8)) {
            JsonObject c = json(line);
            if (!c.containsKey("tools")) continue;
            StringBuilder messages = new StringBuilder("[");
            for (JsonValue v : c.getJsonArray("messages")) {
                JsonObject m = v.asJsonObject();
                if (messages.length() > 1) messages.append(',');
                var out = Json.createObjectBuilder(m).remove("name");
                if (m.containsKey("tool_calls")) {
                    var calls = Json.createArrayBuilder();
                    for (JsonValue call : m.getJsonArray("tool_calls")) {
                        JsonObject fn = call.asJsonObject().getJsonObject("function");
                        calls.add(Json.createObjectBuilder(call.asJsonObject())
                                .add(
                                        "function",
                                        Json.createObjectBuilder()
                                                .add("name", fn.getString("name"))
                                                .add(
                                                        "arguments",
                                                        fn.getJsonObject("arguments")
                                                                .toString())));
                    }
                    out.add("tool_calls", calls).add("content", JsonValue.NULL);
                }
                messages.append(out.build());
            }
            messages.append(']');
            HttpResult r = chat(
                    server,
                    messages.toString(),
                    ",\"max_tokens\":1,\"tools\":" + c.getJsonArray("tools") + ",\"tool_choice\":\"none\"");
            assertEquals(200, r.status(), r::toString);
            assertEquals(
                    TemplatedModels.promptTokens(c.getString("expected")),
                    r.json().getJsonObject("usage").getInt("prompt_tokens"),
                    c.getString("description"));
        }
    }

    @Test
    void toolChoiceNoneAnswersInText(AnvilServer server) {
        serve(server);
        HttpResult r = chat(server, ASK, ",\"max_tokens\":8,\"tools\":[" + WEATHER + "],\"tool_choice\":\"none\"");
        assertEquals(200, r.status(), r::toString);
        JsonObject choice = r.json().getJsonArray("choices").getJsonObject(0);
        assertFalse(choice.getJsonObject("message").getString("content").isEmpty(), r::toString);
        assertFalse(choice.getJsonObject("message").containsKey("tool_calls"), r::toString);
        assertEquals("length", choice.getString("finish_reason"), r::toString);
    }

    @Test
    void badToolsAreRefusedNamingTheParam(AnvilServer server) {
        serve(server);
        Map<String, String> cases = Map.of(
                ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get weather\"}}]",
                "tools[0].function.name",
                ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"string\"}}}]",
                "tools[0].function.parameters.type",
                ",\"tools\":[" + WEATHER + "],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}",
                "tool_choice.function.name",
                ",\"tool_choice\":\"required\"",
                "tool_choice",
                ",\"functions\":[{\"name\":\"f\"}]",
                "functions");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            HttpResult r = chat(server, ASK, c.getKey());
            assertEquals(400, r.status(), r::toString);
            JsonObject error = r.json().getJsonObject("error");
            assertEquals(c.getValue(), error.getString("param"), r::toString);
            assertEquals("invalid_request_error", error.getString("type"), r::toString);
        }
        String badArguments = "[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":null,"
                + "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                + "\"arguments\":\"{city: Paris\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}]";
        HttpResult r = chat(server, badArguments, ",\"tools\":[" + WEATHER + "]");
        assertEquals(400, r.status(), r::toString);
        assertEquals(
                "messages[1].tool_calls[0].function.arguments",
                r.json().getJsonObject("error").getString("param"));
    }

    /** The assembled tool calls of a stream: per index its id, name and concatenated arguments. */
    static List<JsonObject> streamedCalls(OpenAi.Stream s) {
        Map<Integer, JsonObject> first = new java.util.TreeMap<>();
        Map<Integer, StringBuilder> args = new java.util.TreeMap<>();
        for (JsonObject e : s.events()) {
            JsonArray choices = e.getJsonArray("choices");
            if (choices == null || choices.isEmpty()) continue;
            JsonObject delta = choices.getJsonObject(0).getJsonObject("delta");
            if (delta == null || !delta.containsKey("tool_calls")) continue;
            for (JsonValue v : delta.getJsonArray("tool_calls")) {
                JsonObject call = v.asJsonObject();
                int index = call.getInt("index");
                if (call.containsKey("id")) {
                    assertFalse(first.containsKey(index), "one first delta per call: " + s.events());
                    first.put(index, call);
                    args.put(index, new StringBuilder());
                }
                args.get(index).append(call.getJsonObject("function").getString("arguments"));
            }
        }
        return first.entrySet().stream()
                .map(e -> Json.createObjectBuilder()
                        .add("id", e.getValue().getString("id"))
                        .add("name", e.getValue().getJsonObject("function").getString("name"))
                        .add("arguments", args.get(e.getKey()).toString())
                        .build())
                .toList();
    }
}
