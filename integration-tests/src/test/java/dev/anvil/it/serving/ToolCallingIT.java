package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.GgufFile;
import dev.anvil.engine.GgufWriter;
import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
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
import java.time.Duration;
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
    /** The server the model was registered on (the H2 and PostgreSQL runs each start their own). */
    static AnvilServer registeredOn;

    static final String WEATHER = """
            {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city.",
             "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The name of the city"}},
             "required": ["city"]}}}""";

    static synchronized void serve(AnvilServer server) {
        if (registeredOn == server) return;
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
        // A promotion loads the version after the stage change commits: served once /v1/models lists it.
        HttpResult models = Eventually.until(
                () -> server.get("/v1/models"),
                m -> m.status() == 200 && m.body().contains("\"" + MODEL + "\""),
                Duration.ofSeconds(60));
        assertTrue(models.body().contains("\"" + MODEL + "\""), models::toString);
        registeredOn = server;
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

    /** A function whose arguments can only end one way (enums): a forced call with the tiny model always completes. */
    static final String FORECAST = """
            {"type": "function", "function": {"name": "get_forecast", "description": "Forecast for a city.",
             "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "London"]},
             "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"],
             "additionalProperties": false}}}""";

    static final String BOTH = ",\"tools\":[" + WEATHER_ENUM() + "," + FORECAST + "]";

    static String WEATHER_ENUM() {
        return """
                {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city.",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
                 "required": ["city"], "additionalProperties": false}}}""";
    }

    /** Checks a call's arguments against the two functions' schemas (required keys, enums, nothing else). */
    static void assertValidArguments(String name, String arguments) {
        JsonObject args = json(arguments);
        switch (name) {
            case "get_weather" -> {
                assertEquals(java.util.Set.of("city"), args.keySet(), arguments);
                assertTrue(List.of("Paris", "Rome").contains(args.getString("city")), arguments);
            }
            case "get_forecast" -> {
                assertEquals(java.util.Set.of("city", "unit"), args.keySet(), arguments);
                assertTrue(List.of("Paris", "London").contains(args.getString("city")), arguments);
                assertTrue(List.of("celsius", "fahrenheit").contains(args.getString("unit")), arguments);
            }
            default -> throw new AssertionError("a call to an undeclared function: " + name);
        }
    }

    @Test
    void requiredAndNamedToolChoiceAnswerValidCalls(AnvilServer server) {
        serve(server);
        HttpResult required = chat(server, ASK, ",\"max_tokens\":120,\"tool_choice\":\"required\"" + BOTH);
        assertEquals(200, required.status(), required::toString);
        JsonObject choice = required.json().getJsonArray("choices").getJsonObject(0);
        assertEquals("tool_calls", choice.getString("finish_reason"), required::toString);
        JsonArray calls = choice.getJsonObject("message").getJsonArray("tool_calls");
        assertFalse(calls.isEmpty(), required::toString);
        for (JsonValue v : calls) {
            JsonObject call = v.asJsonObject();
            assertTrue(call.getString("id").matches("call_[A-Za-z0-9]{24}"), call::toString);
            assertEquals("function", call.getString("type"));
            assertValidArguments(
                    call.getJsonObject("function").getString("name"),
                    call.getJsonObject("function").getString("arguments"));
        }
        assertTrue(choice.getJsonObject("message").isNull("content"), required::toString);

        HttpResult named = chat(
                server,
                ASK,
                ",\"max_tokens\":120,\"parallel_tool_calls\":false,"
                        + "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_forecast\"}}" + BOTH);
        assertEquals(200, named.status(), named::toString);
        JsonArray one = named.json()
                .getJsonArray("choices")
                .getJsonObject(0)
                .getJsonObject("message")
                .getJsonArray("tool_calls");
        assertEquals(1, one.size(), named::toString);
        JsonObject fn = one.getJsonObject(0).getJsonObject("function");
        assertEquals("get_forecast", fn.getString("name"));
        assertValidArguments("get_forecast", fn.getString("arguments"));
    }

    @Test
    void aForcedCallStreamsAsOpenAiSendsIt(AnvilServer server) {
        serve(server);
        String body = "{\"model\":\"" + MODEL + "\",\"messages\":" + ASK + ",\"temperature\":0,\"max_tokens\":120,"
                + "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"parallel_tool_calls\":false,"
                + "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}" + BOTH + "}";
        OpenAi.Stream s = OpenAi.stream(server, "/v1/chat/completions", body, OpenAi.UNCACHED);
        assertEquals(200, s.status(), s::toString);
        assertTrue(s.done(), s::toString);
        List<JsonObject> calls = streamedCalls(s);
        assertEquals(1, calls.size(), s.events()::toString);
        assertEquals("get_weather", calls.getFirst().getString("name"));
        assertTrue(calls.getFirst().getString("id").startsWith("call_"));
        assertValidArguments("get_weather", calls.getFirst().getString("arguments"));
        assertEquals("", s.text(), "no text beside the forced call: " + s.events());
        String finish = null;
        JsonObject usage = null;
        for (JsonObject e : s.events()) {
            for (JsonValue c : e.getJsonArray("choices"))
                if (!c.asJsonObject().isNull("finish_reason"))
                    finish = c.asJsonObject().getString("finish_reason");
            if (e.containsKey("usage") && !e.isNull("usage")) usage = e.getJsonObject("usage");
        }
        assertEquals("tool_calls", finish);
        assertTrue(usage != null && usage.getInt("completion_tokens") > 0, s.events()::toString);
        // The same request without streaming answers the same call (greedy, same prompt).
        HttpResult plain = chat(
                server,
                ASK,
                ",\"max_tokens\":120,\"parallel_tool_calls\":false,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}"
                        + BOTH);
        JsonObject fn = plain.json()
                .getJsonArray("choices")
                .getJsonObject(0)
                .getJsonObject("message")
                .getJsonArray("tool_calls")
                .getJsonObject(0)
                .getJsonObject("function");
        assertEquals(calls.getFirst().getString("arguments"), fn.getString("arguments"));
    }

    @Test
    void aToolResultGoesBackToTheModel(AnvilServer server) {
        serve(server);
        HttpResult first = chat(server, ASK, ",\"max_tokens\":120,\"tool_choice\":\"required\"" + BOTH);
        assertEquals(200, first.status(), first::toString);
        JsonObject message =
                first.json().getJsonArray("choices").getJsonObject(0).getJsonObject("message");
        String id = message.getJsonArray("tool_calls").getJsonObject(0).getString("id");
        String turns = "[" + ASK.substring(1, ASK.length() - 1) + "," + message
                + ",{\"role\":\"tool\",\"tool_call_id\":\"" + id + "\",\"content\":\"{\\\"temperature_c\\\": 18}\"}]";
        HttpResult answer = chat(server, turns, ",\"max_tokens\":8,\"tool_choice\":\"none\"" + BOTH);
        assertEquals(200, answer.status(), answer::toString);
        JsonObject choice = answer.json().getJsonArray("choices").getJsonObject(0);
        assertFalse(choice.getJsonObject("message").getString("content").isEmpty(), answer::toString);
        // The tool turn is in the prompt: it is longer than the same conversation without the result.
        HttpResult without = chat(
                server,
                "[" + ASK.substring(1, ASK.length() - 1) + "," + message + "]",
                ",\"max_tokens\":1,\"tool_choice\":\"none\"" + BOTH);
        assertTrue(
                answer.json().getJsonObject("usage").getInt("prompt_tokens")
                        > without.json().getJsonObject("usage").getInt("prompt_tokens"),
                answer::toString);
    }

    @Test
    void langChain4jCallsToolsAndSendsTheirResults(AnvilServer server) {
        serve(server);
        dev.langchain4j.model.openai.OpenAiChatModel model = dev.langchain4j.model.openai.OpenAiChatModel.builder()
                .baseUrl(server.uri("/v1").toString())
                .apiKey("not-checked")
                .modelName(MODEL)
                .temperature(0.0)
                .maxTokens(120)
                .timeout(java.time.Duration.ofSeconds(120))
                .build();
        dev.langchain4j.agent.tool.ToolSpecification weather = dev.langchain4j.agent.tool.ToolSpecification.builder()
                .name("get_weather")
                .description("Weather of a city.")
                .parameters(dev.langchain4j.model.chat.request.json.JsonObjectSchema.builder()
                        .addEnumProperty("city", List.of("Paris", "Rome"))
                        .required("city")
                        .additionalProperties(false)
                        .build())
                .build();
        dev.langchain4j.data.message.UserMessage user =
                dev.langchain4j.data.message.UserMessage.from("What's the weather like in Paris today?");
        dev.langchain4j.model.chat.response.ChatResponse response =
                model.chat(dev.langchain4j.model.chat.request.ChatRequest.builder()
                        .messages(user)
                        .toolSpecifications(weather)
                        .toolChoice(dev.langchain4j.model.chat.request.ToolChoice.REQUIRED)
                        .build());
        dev.langchain4j.data.message.AiMessage ai = response.aiMessage();
        assertTrue(ai.hasToolExecutionRequests(), response::toString);
        dev.langchain4j.agent.tool.ToolExecutionRequest request =
                ai.toolExecutionRequests().getFirst();
        assertEquals("get_weather", request.name());
        assertTrue(request.id().startsWith("call_"), request::toString);
        assertValidArguments("get_weather", request.arguments());
        assertEquals(dev.langchain4j.model.output.FinishReason.TOOL_EXECUTION, response.finishReason());
        // The result goes back as a tool message; the model answers (in text, with tool_choice left to the model).
        dev.langchain4j.model.chat.response.ChatResponse next =
                model.chat(dev.langchain4j.model.chat.request.ChatRequest.builder()
                        .messages(
                                user,
                                ai,
                                dev.langchain4j.data.message.ToolExecutionResultMessage.from(
                                        request, "{\"temperature_c\": 18}"))
                        .toolSpecifications(weather)
                        .maxOutputTokens(8)
                        .build());
        assertTrue(next.tokenUsage().inputTokenCount() > response.tokenUsage().inputTokenCount(), next::toString);
        assertTrue(
                next.aiMessage().hasToolExecutionRequests() || next.aiMessage().text() != null, next::toString);
    }

    @Test
    void theOfficialOpenAiNodeClientCallsTools(AnvilServer server) throws Exception {
        serve(server);
        JsonObject o = OpenAiNodeClient.runScript(
                "tools.mjs",
                """
                import OpenAI from 'openai';
                const client = new OpenAI({ baseURL: process.argv[2], apiKey: 'not-checked', maxRetries: 0 });
                const model = process.argv[3];
                const tools = JSON.parse(process.argv[4]);
                const messages = [{ role: 'user', content: "What's the weather like in Paris today?" }];
                const plain = await client.chat.completions.create({ model, messages, tools, tool_choice: 'required',
                    max_tokens: 120, temperature: 0 });
                const stream = await client.chat.completions.create({ model, messages, tools, max_tokens: 120,
                    temperature: 0, parallel_tool_calls: false, tool_choice: { type: 'function', function: { name: 'get_forecast' } },
                    stream: true, stream_options: { include_usage: true } });
                const streamed = [];
                let finish = null, usage = null, content = '';
                for await (const chunk of stream) {
                    if (chunk.usage) usage = chunk.usage;
                    for (const c of chunk.choices) {
                        if (c.finish_reason) finish = c.finish_reason;
                        if (c.delta.content) content += c.delta.content;
                        for (const t of c.delta.tool_calls ?? []) {
                            streamed[t.index] ??= { id: t.id, name: t.function?.name, arguments: '' };
                            streamed[t.index].arguments += t.function?.arguments ?? '';
                        }
                    }
                }
                // The client's own stream helper assembles the calls of the same request.
                const runner = client.beta.chat.completions.stream({ model, messages, tools, max_tokens: 120,
                    temperature: 0, parallel_tool_calls: false, tool_choice: { type: 'function', function: { name: 'get_forecast' } } });
                const assembled = await runner.finalChatCompletion();
                const call = plain.choices[0].message.tool_calls[0];
                const next = await client.chat.completions.create({ model, tools, tool_choice: 'none', max_tokens: 8,
                    temperature: 0, messages: [...messages, plain.choices[0].message,
                        { role: 'tool', tool_call_id: call.id, content: '{"temperature_c": 18}' }] });
                let status = null, param = null;
                try {
                    await client.chat.completions.create({ model, messages, max_tokens: 4,
                        tools: [{ type: 'function', function: { name: 'no spaces allowed' } }] });
                } catch (e) {
                    status = e.status; param = e.param;
                }
                console.log(JSON.stringify({ plain: plain.choices[0], streamed, finish, usage, content,
                    assembled: assembled.choices[0].message.tool_calls, next: next.choices[0], status, param }));
                """,
                300,
                server.uri("/v1").toString(),
                MODEL,
                "[" + WEATHER_ENUM() + "," + FORECAST + "]");
        String out = o.toString();
        JsonObject plain = o.getJsonObject("plain");
        assertEquals("tool_calls", plain.getString("finish_reason"), out);
        for (JsonValue v : plain.getJsonObject("message").getJsonArray("tool_calls")) {
            JsonObject fn = v.asJsonObject().getJsonObject("function");
            assertValidArguments(fn.getString("name"), fn.getString("arguments"));
        }
        JsonArray streamed = o.getJsonArray("streamed");
        assertEquals(1, streamed.size(), out);
        assertEquals("get_forecast", streamed.getJsonObject(0).getString("name"), out);
        assertTrue(streamed.getJsonObject(0).getString("id").startsWith("call_"), out);
        assertValidArguments("get_forecast", streamed.getJsonObject(0).getString("arguments"));
        assertEquals("tool_calls", o.getString("finish"), out);
        assertEquals("", o.getString("content"), out);
        assertTrue(o.getJsonObject("usage").getInt("completion_tokens") > 0, out);
        JsonObject assembled = o.getJsonArray("assembled").getJsonObject(0).getJsonObject("function");
        assertEquals(streamed.getJsonObject(0).getString("arguments"), assembled.getString("arguments"), out);
        assertFalse(
                o.getJsonObject("next")
                        .getJsonObject("message")
                        .getString("content")
                        .isEmpty(),
                out);
        assertEquals(400, o.getInt("status"), out);
        assertEquals("tools[0].function.name", o.getString("param"), out);
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
