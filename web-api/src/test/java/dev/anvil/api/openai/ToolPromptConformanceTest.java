package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.serving.ServedModel;
import dev.anvil.serving.chat.ChatTemplate;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The reference renderings with tools (../shared/reference/chat-templates, rendered by Hugging Face's
 * {@code apply_chat_template}), reached through the API: each case sent as an OpenAI chat request (tool-call arguments as
 * JSON text, a tool result naming only its call's id) renders to exactly the reference prompt.
 */
class ToolPromptConformanceTest {

    static final Path REFERENCE = Path.of("../../shared/reference/chat-templates");

    static Stream<Arguments> cases() throws IOException {
        List<Arguments> cases = new ArrayList<>();
        try (Stream<Path> files = Files.list(REFERENCE)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".cases.jsonl"))
                    .sorted()
                    .toList()) {
                String name = file.getFileName().toString().replace(".cases.jsonl", "");
                String template = Files.readString(REFERENCE.resolve(name + ".jinja"));
                for (String line : Files.readAllLines(file)) {
                    JsonObject c = Json.createReader(new StringReader(line)).readObject();
                    // The API always asks for the generation prompt; cases the template refuses are the template's.
                    if (!c.containsKey("tools") || !c.getBoolean("add_generation_prompt") || c.isNull("expected"))
                        continue;
                    cases.add(Arguments.of(name + ": " + c.getString("description"), template, c));
                }
            }
        }
        assertTrue(cases.size() >= 10, "tool cases found: " + cases.size());
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void aChatRequestWithToolsRendersAsHuggingFaceDoes(String name, String template, JsonObject c) {
        ChatRequest request = ChatRequest.parse(request(c));
        ServedModel model = new ServedModel(
                "m",
                "1.0.0",
                null,
                4096,
                ChatTemplate.of(template, text(c, "bos_token"), text(c, "eos_token")),
                Instant.EPOCH,
                "anvil");
        assertEquals(c.getString("expected"), ChatCompletionsResource.render(model, request), name);
    }

    private static String text(JsonObject c, String key) {
        return c.isNull(key) ? null : c.getString(key);
    }

    /** The case as an OpenAI request body. */
    static JsonObject request(JsonObject c) {
        JsonArrayBuilder messages = Json.createArrayBuilder();
        for (JsonValue v : c.getJsonArray("messages")) {
            JsonObject m = v.asJsonObject();
            JsonObjectBuilder out = Json.createObjectBuilder().add("role", m.getString("role"));
            if (m.containsKey("content")) out.add("content", m.get("content"));
            if (m.containsKey("tool_call_id")) out.add("tool_call_id", m.getString("tool_call_id"));
            if (m.containsKey("tool_calls")) {
                JsonArrayBuilder calls = Json.createArrayBuilder();
                for (JsonValue call : m.getJsonArray("tool_calls")) {
                    JsonObject function = call.asJsonObject().getJsonObject("function");
                    calls.add(Json.createObjectBuilder(call.asJsonObject())
                            .add(
                                    "function",
                                    Json.createObjectBuilder()
                                            .add("name", function.getString("name"))
                                            .add(
                                                    "arguments",
                                                    function.getJsonObject("arguments")
                                                            .toString())));
                }
                out.add("tool_calls", calls);
            }
            messages.add(out);
        }
        return Json.createObjectBuilder()
                .add("model", "m")
                .add("messages", messages)
                .add("tools", c.getJsonArray("tools"))
                .build();
    }
}
