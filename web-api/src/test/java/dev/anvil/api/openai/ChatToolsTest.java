package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.api.ApiException;
import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationHandle;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import dev.anvil.serving.Usage;
import dev.anvil.serving.chat.ChatMessage;
import dev.anvil.serving.chat.ChatTemplate;
import dev.anvil.serving.tools.ToolCallSyntax;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Tools in chat requests: parsing and refusals (each naming its param), rendering, and the answer's tool calls. */
class ChatToolsTest {

    static final String WEATHER = """
            {"type":"function","function":{"name":"get_weather","description":"Weather of a city",
             "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}""";

    static JsonObject json(String text) {
        return Json.createReader(new StringReader(text)).readObject();
    }

    static ChatRequest chat(String extra) {
        return ChatRequest.parse(json("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],"
                + "\"tools\":[" + WEATHER + "]" + extra + "}"));
    }

    static String rejectedParam(String body) {
        return assertThrows(ApiException.class, () -> ChatRequest.parse(json(body)))
                .param();
    }

    @Test
    void toolsAndToolChoiceAreRead() {
        ChatRequest auto = chat("");
        assertEquals(ChatTools.Choice.AUTO, auto.tools().choice());
        assertTrue(auto.tools().parallel());
        assertEquals(List.of("get_weather"), List.copyOf(auto.tools().names()));
        Map<String, Object> definition = auto.tools().definitions().getFirst();
        assertEquals("function", definition.get("type"));
        @SuppressWarnings("unchecked")
        Map<String, Object> function = (Map<String, Object>) definition.get("function");
        assertEquals(List.of("name", "description", "parameters"), List.copyOf(function.keySet()), "order kept");
        assertEquals(
                ChatTools.Choice.Mode.REQUIRED,
                chat(",\"tool_choice\":\"required\"").tools().choice().mode());
        assertEquals(
                ChatTools.Choice.Mode.NONE,
                chat(",\"tool_choice\":\"none\"").tools().choice().mode());
        ChatTools.Choice named =
                chat(",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}")
                        .tools()
                        .choice();
        assertEquals(new ChatTools.Choice(ChatTools.Choice.Mode.FUNCTION, "get_weather"), named);
        assertFalse(chat(",\"parallel_tool_calls\":false").tools().parallel());
        assertEquals(1, chat(",\"parallel_tool_calls\":false").tools().maxCalls());
        assertNull(ChatRequest.parse(json("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"))
                .tools());
    }

    @Test
    void toolTurnsAreReadAsTemplatesSeeThem() {
        ChatRequest r = ChatRequest.parse(json("""
                {"model":"m","messages":[{"role":"user","content":"Weather in Paris?"},
                 {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
                   "function":{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\", \\"days\\": 2}"}}]},
                 {"role":"tool","tool_call_id":"call_1","content":"sunny"}],
                 "tools":[""" + WEATHER + "]}"));
        ChatMessage assistant = r.messages().get(1);
        assertEquals("", assistant.content());
        ChatMessage.ToolCall call = assistant.toolCalls().getFirst();
        assertEquals("call_1", call.id());
        assertEquals(Map.of("city", "Paris", "days", 2L), call.arguments());
        ChatMessage tool = r.messages().get(2);
        assertEquals("tool", tool.role());
        assertEquals("call_1", tool.toolCallId());
        assertEquals("get_weather", tool.name(), "the name of the call it answers");
        assertEquals("sunny", tool.content());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            tools not an array          | "tools":{}                                                          | tools
            tools empty                 | "tools":[]                                                          | tools
            tool of another type        | "tools":[{"type":"retrieval"}]                                      | tools[0].type
            no function                 | "tools":[{"type":"function"}]                                       | tools[0].function
            no name                     | "tools":[{"type":"function","function":{}}]                         | tools[0].function.name
            name with a space           | "tools":[{"type":"function","function":{"name":"get weather"}}]     | tools[0].function.name
            name of 65 characters       | "tools":[{"type":"function","function":{"name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}] | tools[0].function.name
            name declared twice         | "tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}] | tools[1].function.name
            parameters not an object    | "tools":[{"type":"function","function":{"name":"f","parameters":[]}}] | tools[0].function.parameters
            parameters of a string      | "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"string"}}}] | tools[0].function.parameters.type
            parameters no JSON Schema   | "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":7}}}}}] | tools[0].function.parameters
            schema pattern not RE2      | "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string","pattern":"(a)\\\\1"}}}}}] | tools[0].function.parameters
            schema the grammar cannot enforce | "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","patternProperties":{"^a":{"type":"string"}}}}}] | tools[0].function.parameters
            strict not a boolean        | "tools":[{"type":"function","function":{"name":"f","strict":"yes"}}] | tools[0].function.strict
            tool_choice unknown         | "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"always" | tool_choice
            tool_choice undeclared      | "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}} | tool_choice.function.name
            tool_choice without tools   | "tool_choice":"auto"                                                | tool_choice
            parallel without tools      | "parallel_tool_calls":true                                          | parallel_tool_calls
            legacy functions            | "functions":[{"name":"f"}]                                          | functions
            legacy function_call        | "function_call":"auto"                                              | function_call
            response_format with tools  | "tools":[{"type":"function","function":{"name":"f"}}],"response_format":{"type":"json_object"} | response_format
            streamed logprobs and tools | "tools":[{"type":"function","function":{"name":"f"}}],"stream":true,"logprobs":true | logprobs
            """)
    void badToolsAreRefusedNamingTheParam(String what, String fields, String param) {
        assertEquals(
                param,
                rejectedParam("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]," + fields + "}"),
                what);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            tool message without id     | {"role":"tool","content":"sunny"}                                   | messages[1].tool_call_id
            tool message without text   | {"role":"tool","tool_call_id":"c"}                                  | messages[1].content
            arguments not JSON          | {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{city"}}]} | messages[1].tool_calls[0].function.arguments
            arguments an array          | {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]} | messages[1].tool_calls[0].function.arguments
            arguments too deep          | {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\\"a\\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}"}}]} | messages[1].tool_calls[0].function.arguments
            call without id             | {"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]} | messages[1].tool_calls[0].id
            call with a bad name        | {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f()","arguments":"{}"}}]} | messages[1].tool_calls[0].function.name
            tool_calls on a user turn   | {"role":"user","content":"x","tool_calls":[]}                       | messages[1].tool_calls
            a function message          | {"role":"function","name":"f","content":"x"}                        | messages[1].role
            """)
    void badToolTurnsAreRefusedNamingTheParam(String what, String message, String param) {
        assertEquals(
                param,
                rejectedParam("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}," + message + "]}"),
                what);
    }

    @Test
    void tooManyToolsAreRefused() {
        StringBuilder tools = new StringBuilder();
        for (int i = 0; i <= ChatTools.MAX_TOOLS; i++)
            tools.append(i > 0 ? "," : "")
                    .append("{\"type\":\"function\",\"function\":{\"name\":\"f")
                    .append(i)
                    .append("\"}}");
        assertEquals(
                "tools",
                rejectedParam("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":["
                        + tools + "]}"));
    }

    // ---- rendering

    static final Path TEMPLATES = Path.of("../../shared/reference/chat-templates");

    static ServedModel model(String templateSource) {
        return new ServedModel(
                "m", "1.0.0", null, 4096, ChatTemplate.of(templateSource, "", "<|im_end|>"), Instant.EPOCH, "anvil");
    }

    static String qwen() throws IOException {
        return Files.readString(TEMPLATES.resolve("Qwen-Qwen2.5-7B-Instruct.jinja"));
    }

    @Test
    void toolsAreRenderedByATemplateThatKnowsThem() throws IOException {
        String prompt = ChatCompletionsResource.render(model(qwen()), chat(""));
        assertTrue(
                prompt.contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\""), prompt);
        assertTrue(prompt.endsWith("<|im_start|>assistant\n"), prompt);
        // tool_choice none keeps them in the prompt (the model knows its tools; it is not asked to call them)
        assertTrue(ChatCompletionsResource.render(model(qwen()), chat(",\"tool_choice\":\"none\""))
                .contains("<tools>"));
    }

    @Test
    void aTemplateWithoutToolsGetsTheGenericToolPrompt() {
        ServedModel fallback = model(null);
        String prompt = ChatCompletionsResource.render(fallback, chat(""));
        assertTrue(prompt.startsWith("You can call these tools"), prompt);
        assertTrue(prompt.contains("\"name\":\"get_weather\""), prompt);
        assertTrue(prompt.contains("{\"tool_calls\": [{\"name\":"), prompt);
        assertTrue(prompt.endsWith("User: Weather?\nAssistant:"), prompt);
        assertEquals(
                "User: Weather?\nAssistant:",
                ChatCompletionsResource.render(fallback, chat(",\"tool_choice\":\"none\"")),
                "with none the generic instructions are left out");
    }

    @Test
    void theGrammarFollowsToolChoice() throws IOException {
        ServedModel qwen = model(qwen());
        assertNull(ChatCompletionsResource.toolGrammar(
                qwen, chat(",\"tool_choice\":\"none\"").tools()));
        assertNull(ChatCompletionsResource.toolGrammar(qwen, null));
        var auto = ChatCompletionsResource.toolGrammar(qwen, chat("").tools());
        assertEquals(List.of("<tool_call>"), auto.triggers(), "auto: lazy on the marker");
        var required = ChatCompletionsResource.toolGrammar(
                qwen, chat(",\"tool_choice\":\"required\"").tools());
        assertFalse(required.isLazy());
        assertTrue(required.grammar().source().contains("get_weather"));
        ChatRequest two =
                ChatRequest.parse(json("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                        + "\"tools\":[" + WEATHER + ",{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}],"
                        + "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}}"));
        String named =
                ChatCompletionsResource.toolGrammar(qwen, two.tools()).grammar().source();
        assertTrue(named.contains("get_time") && !named.contains("get_weather"), named);
    }

    // ---- answers

    static Submission submission(ServedModel model) {
        GenerationHandle done = GenerationHandle.completed("chatcmpl-1", model, 3, 1, "", new int[0]);
        return Submission.live(
                "chatcmpl-1",
                model,
                1,
                List.of(done),
                List.of(""),
                false,
                new Submission.Setup(null, null, null, null, List.of()));
    }

    static JsonObject plain(ServedModel model, ChatRequest request, String text) {
        GenerationResult result = new GenerationResult(
                "chatcmpl-1",
                model,
                List.of(new GenerationResult.Choice(0, text, new int[0], FinishReason.STOP, null)),
                new Usage(3, 9));
        return json(OpenAiJson.toJson(ChatCompletionsResource.response(submission(model), request, List.of(result))))
                .getJsonArray("choices")
                .getJsonObject(0);
    }

    static final String CALL =
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";

    @Test
    void aCallInTheAnswerBecomesToolCalls() throws IOException {
        JsonObject choice = plain(model(qwen()), chat(""), CALL);
        assertEquals("tool_calls", choice.getString("finish_reason"));
        JsonObject message = choice.getJsonObject("message");
        assertTrue(message.isNull("content"), message.toString());
        JsonObject call = message.getJsonArray("tool_calls").getJsonObject(0);
        assertTrue(call.getString("id").startsWith("call_"));
        assertEquals("function", call.getString("type"));
        assertEquals("get_weather", call.getJsonObject("function").getString("name"));
        assertEquals(
                "Paris",
                json(call.getJsonObject("function").getString("arguments")).getString("city"),
                "arguments are JSON text");
    }

    @Test
    void noneOrMalformedCallsAnswerText() throws IOException {
        JsonObject none = plain(model(qwen()), chat(",\"tool_choice\":\"none\""), CALL);
        assertEquals(CALL, none.getJsonObject("message").getString("content"));
        assertEquals("stop", none.getString("finish_reason"));
        assertFalse(none.getJsonObject("message").containsKey("tool_calls"));
        String broken = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": ";
        JsonObject malformed = plain(model(qwen()), chat(""), broken);
        assertEquals(broken, malformed.getJsonObject("message").getString("content"));
        assertEquals("stop", malformed.getString("finish_reason"));
    }

    @Test
    void aStreamSendsCallsAsOpenAiDoes() throws IOException {
        ServedModel model = model(qwen());
        ChatCompletionsResource.Chunks chunks =
                new ChatCompletionsResource.Chunks(submission(model), chat(""), ToolCallSyntax.HERMES);
        String answer = "Checking.\n" + CALL;
        List<JsonObject> deltas = new ArrayList<>();
        List<String> finishes = new ArrayList<>();
        List<Object> sent = new ArrayList<>();
        for (int i = 0; i < answer.length(); i++) sent.addAll(chunks.delta(0, answer.substring(i, i + 1), null));
        sent.addAll(chunks.finish(0, FinishReason.STOP));
        for (Object chunk : sent) {
            JsonObject choice =
                    json(OpenAiJson.toJson(chunk)).getJsonArray("choices").getJsonObject(0);
            deltas.add(choice.getJsonObject("delta"));
            finishes.add(choice.isNull("finish_reason") ? null : choice.getString("finish_reason"));
        }
        StringBuilder content = new StringBuilder(), arguments = new StringBuilder();
        JsonObject first = null;
        for (JsonObject d : deltas) {
            if (d.containsKey("content")) content.append(d.getString("content"));
            if (!d.containsKey("tool_calls")) continue;
            JsonObject call = d.getJsonArray("tool_calls").getJsonObject(0);
            assertEquals(0, call.getInt("index"));
            if (first == null) {
                first = call;
                assertEquals("", call.getJsonObject("function").getString("arguments"));
            } else {
                assertEquals(java.util.Set.of("index", "function"), call.keySet(), call.toString());
                arguments.append(call.getJsonObject("function").getString("arguments"));
            }
        }
        assertEquals("Checking.", content.toString(), "no marker text leaks");
        assertTrue(first.getString("id").startsWith("call_"));
        assertEquals("function", first.getString("type"));
        assertEquals("get_weather", first.getJsonObject("function").getString("name"));
        assertEquals("{\"city\": \"Paris\"}", arguments.toString());
        assertEquals("tool_calls", finishes.getLast());
        assertEquals(JsonObject.EMPTY_JSON_OBJECT, deltas.getLast());
    }
}
