package dev.anvil.serving.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ToolCallStreamTest {

    static final Set<String> TOOLS = Set.of("get_weather", "get_time");
    static final String PARIS = "{\"city\": \"Paris\"}";

    static ToolCallStream.Parsed parse(ToolCallSyntax syntax, String answer) {
        return ToolCallStream.parse(syntax, TOOLS, 128, answer);
    }

    /** What a stream released, fed in pieces of {@code size} characters (1: a token per character). */
    record Streamed(String content, List<ToolCallStream.Call> calls, List<ToolCallStream.Event> events) {}

    static Streamed stream(ToolCallSyntax syntax, String answer, int size, int maxCalls) {
        ToolCallStream s = new ToolCallStream(syntax, TOOLS, maxCalls);
        List<ToolCallStream.Event> events = new ArrayList<>();
        for (int i = 0; i < answer.length(); i += size)
            events.addAll(s.feed(answer.substring(i, Math.min(answer.length(), i + size))));
        events.addAll(s.finish());
        StringBuilder content = new StringBuilder();
        List<String> ids = new ArrayList<>(), names = new ArrayList<>();
        List<StringBuilder> args = new ArrayList<>();
        for (ToolCallStream.Event e : events) {
            switch (e) {
                case ToolCallStream.Content c -> content.append(c.text());
                case ToolCallStream.CallStart c -> {
                    assertEquals(ids.size(), c.index(), "calls are announced in order");
                    ids.add(c.id());
                    names.add(c.name());
                    args.add(new StringBuilder());
                }
                case ToolCallStream.Arguments a -> args.get(a.index()).append(a.fragment());
            }
        }
        List<ToolCallStream.Call> calls = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++)
            calls.add(new ToolCallStream.Call(
                    ids.get(i), names.get(i), args.get(i).toString()));
        return new Streamed(content.toString(), calls, events);
    }

    /** The stream, whatever the pieces, assembles to what the plain parse answers (ids aside: each run makes its own). */
    static void assertStreamAgrees(ToolCallSyntax syntax, String answer) {
        ToolCallStream.Parsed whole = parse(syntax, answer);
        for (int size : new int[] {1, 2, 3, 7, answer.length() + 1}) {
            Streamed s = stream(syntax, answer, size, 128);
            assertEquals(
                    whole.calls().stream().map(c -> c.name() + c.arguments()).toList(),
                    s.calls().stream().map(c -> c.name() + c.arguments()).toList(),
                    "calls, pieces of " + size);
            assertEquals(whole.content() == null ? "" : whole.content(), s.content(), "content, pieces of " + size);
        }
    }

    // ---- Hermes / Qwen

    @Test
    void hermesCallIsReadWithItsArgumentsAsWritten() {
        String answer = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": " + PARIS + "}\n</tool_call>";
        ToolCallStream.Parsed p = parse(ToolCallSyntax.HERMES, answer);
        assertNull(p.content());
        assertEquals(1, p.calls().size());
        assertEquals("get_weather", p.calls().getFirst().name());
        assertEquals(PARIS, p.calls().getFirst().arguments());
        assertTrue(
                p.calls().getFirst().id().matches("call_[A-Za-z0-9]{24}"),
                p.calls().getFirst().id());
        assertStreamAgrees(ToolCallSyntax.HERMES, answer);
    }

    @Test
    void hermesTextBeforeCallsIsContentAndSeveralCallsAreRead() {
        String answer = "Let me look that up.\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": " + PARIS
                + "}\n</tool_call>\n<tool_call>\n{\"arguments\": {\"zone\": \"CET\"}, \"name\": \"get_time\"}\n"
                + "</tool_call>\n";
        ToolCallStream.Parsed p = parse(ToolCallSyntax.HERMES, answer);
        assertEquals("Let me look that up.", p.content());
        assertEquals(
                List.of("get_weather", "get_time"),
                p.calls().stream().map(ToolCallStream.Call::name).toList());
        assertEquals("{\"zone\": \"CET\"}", p.calls().get(1).arguments(), "arguments before the name");
        assertStreamAgrees(ToolCallSyntax.HERMES, answer);
    }

    @Test
    void argumentsGivenAsJsonTextOrLeftOutAreObjects() {
        ToolCallStream.Parsed quoted = parse(
                ToolCallSyntax.HERMES,
                "<tool_call>{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}</tool_call>");
        assertEquals(PARIS, quoted.calls().getFirst().arguments());
        ToolCallStream.Parsed none = parse(ToolCallSyntax.HERMES, "<tool_call>{\"name\": \"get_time\"}</tool_call>");
        assertEquals("{}", none.calls().getFirst().arguments());
        assertStreamAgrees(
                ToolCallSyntax.HERMES,
                "<tool_call>{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}</tool_call>");
    }

    @Test
    void aCallWithoutItsClosingTagAtTheEndStands() {
        ToolCallStream.Parsed p =
                parse(ToolCallSyntax.HERMES, "<tool_call>{\"name\": \"get_weather\", \"arguments\": " + PARIS + "}");
        assertEquals(1, p.calls().size());
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                // an undeclared function
                "<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>",
                // cut off inside the arguments
                "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par",
                // arguments that are not an object
                "<tool_call>{\"name\": \"get_weather\", \"arguments\": [1, 2]}</tool_call>",
                // not JSON after the marker
                "<tool_call>get_weather(city='Paris')</tool_call>",
                // JSON with a broken value inside the arguments
                "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": Paris}}</tool_call>",
                // a marker inside text, then prose
                "Use <tool_call> tags to call tools.",
            })
    void malformedOutputIsAllContent(String answer) {
        ToolCallStream.Parsed p = parse(ToolCallSyntax.HERMES, answer);
        assertEquals(answer, p.content());
        assertTrue(p.calls().isEmpty());
    }

    @Test
    void aMarkerThatLeadsNowhereIsReleasedAsWrittenInTheStream() {
        String answer = "Use <tool_call> tags, or <tool_ calls.";
        assertStreamAgrees(ToolCallSyntax.HERMES, answer);
        assertEquals(answer, stream(ToolCallSyntax.HERMES, answer, 1, 128).content());
    }

    @Test
    void anAnswerWithoutCallsIsReleasedExactlyAsGenerated() {
        String answer = "  Once upon a time <tool\n\nthere was a fox.  \n";
        for (ToolCallSyntax syntax : ToolCallSyntax.values()) {
            assertEquals(answer, parse(syntax, answer).content(), syntax.name());
            assertEquals(answer, stream(syntax, answer, 1, 128).content(), syntax.name());
        }
    }

    @Test
    void noMarkerTextLeaksWhenTheMarkerIsSplitAcrossTokens() {
        String answer = "Checking. <tool_call>{\"name\": \"get_weather\", \"arguments\": " + PARIS + "}</tool_call>";
        for (int size = 1; size <= 12; size++) {
            Streamed s = stream(ToolCallSyntax.HERMES, answer, size, 128);
            assertEquals("Checking.", s.content(), "pieces of " + size);
            for (ToolCallStream.Event e : s.events())
                if (e instanceof ToolCallStream.Content c) assertFalse(c.text().contains("<"), c.text());
        }
    }

    @Test
    void aStreamAnnouncesTheCallOnceItsNameIsReadThenSendsTheArgumentsAsTheyCome() {
        ToolCallStream s = new ToolCallStream(ToolCallSyntax.HERMES, TOOLS, 128);
        assertEquals(List.of(), s.feed("<tool_call>\n{\"name\": \"get_wea"));
        List<ToolCallStream.Event> named = s.feed("ther\", \"arguments\": {\"ci");
        assertEquals(2, named.size(), named.toString());
        ToolCallStream.CallStart start = assertInstanceOf(ToolCallStream.CallStart.class, named.get(0));
        assertEquals(0, start.index());
        assertEquals("get_weather", start.name());
        assertEquals(new ToolCallStream.Arguments(0, "{\"ci"), named.get(1));
        assertEquals(List.of(new ToolCallStream.Arguments(0, "ty\": \"Paris\"}")), s.feed("ty\": \"Paris\"}}\n</tool"));
        assertEquals(List.of(), s.feed("_call>"));
        assertEquals(List.of(), s.finish());
        assertEquals(PARIS, s.calls().getFirst().arguments());
        assertEquals(start.id(), s.calls().getFirst().id());
    }

    @Test
    void aStreamCutInsideAnAnnouncedCallIsMalformed() {
        ToolCallStream s = new ToolCallStream(ToolCallSyntax.HERMES, TOOLS, 128);
        s.feed("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\"");
        assertTrue(s.announcedAny());
        s.finish();
        assertTrue(s.malformed());
        assertTrue(s.calls().isEmpty());
    }

    @Test
    void callsCompleteBeforeALaterOneBrokeStand() {
        String answer = "<tool_call>{\"name\": \"get_weather\", \"arguments\": " + PARIS
                + "}</tool_call>\n<tool_call>{\"name\": \"get_time\", \"arguments\": {\"zo";
        ToolCallStream.Parsed p = parse(ToolCallSyntax.HERMES, answer);
        assertEquals(
                List.of("get_weather"),
                p.calls().stream().map(ToolCallStream.Call::name).toList());
        Streamed s = stream(ToolCallSyntax.HERMES, answer, 1, 128);
        assertEquals("get_weather", s.calls().getFirst().name());
        assertEquals(PARIS, s.calls().getFirst().arguments());
        // cut before the next call's name was read: nothing of it becomes text
        String early = "<tool_call>{\"name\": \"get_weather\", \"arguments\": " + PARIS
                + "}</tool_call>\n<tool_call>\n{\"name\": \"ge";
        assertNull(parse(ToolCallSyntax.HERMES, early).content());
        assertEquals("", stream(ToolCallSyntax.HERMES, early, 1, 128).content());
    }

    @Test
    void withoutParallelCallsOnlyTheFirstIsRead() {
        String two = "<tool_call>{\"name\": \"get_weather\", \"arguments\": " + PARIS
                + "}</tool_call><tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>";
        assertEquals(
                1,
                ToolCallStream.parse(ToolCallSyntax.HERMES, TOOLS, 1, two)
                        .calls()
                        .size());
        assertEquals(1, stream(ToolCallSyntax.HERMES, two, 1, 1).calls().size());
        assertEquals("", stream(ToolCallSyntax.HERMES, two, 1, 1).content());
    }

    // ---- Llama 3.x

    @Test
    void llama3JsonCallUsesParameters() {
        String answer = "{\"name\": \"get_weather\", \"parameters\": " + PARIS + "}";
        ToolCallStream.Parsed p = parse(ToolCallSyntax.LLAMA3, answer);
        assertNull(p.content());
        assertEquals(PARIS, p.calls().getFirst().arguments());
        assertStreamAgrees(ToolCallSyntax.LLAMA3, answer);
        assertEquals(
                1,
                parse(ToolCallSyntax.LLAMA3, "<|python_tag|>" + answer).calls().size());
        assertStreamAgrees(ToolCallSyntax.LLAMA3, "<|python_tag|>" + answer);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "{\"answer\": 42}",
                "{\"name\": \"Bob\", \"age\": 3}",
                "{ not json at all",
                "Text first, then {\"name\": \"get_weather\", \"parameters\": {}}"
            })
    void llama3JsonThatIsNotACallIsContent(String answer) {
        assertEquals(answer, parse(ToolCallSyntax.LLAMA3, answer).content());
        assertStreamAgrees(ToolCallSyntax.LLAMA3, answer);
    }

    // ---- Mistral

    @Test
    void mistralCallsAreAnArrayAfterTheMarkerOrAtTheStart() {
        String array = "[{\"name\": \"get_weather\", \"arguments\": " + PARIS
                + ", \"id\": \"a1b2c3d4e\"}, {\"name\": \"get_time\", \"arguments\": {}}]";
        for (String answer : List.of("[TOOL_CALLS]" + array, array, "Sure. [TOOL_CALLS] " + array)) {
            ToolCallStream.Parsed p = parse(ToolCallSyntax.MISTRAL, answer);
            assertEquals(2, p.calls().size(), answer);
            assertEquals(PARIS, p.calls().getFirst().arguments());
            assertTrue(p.calls().getFirst().id().matches("[A-Za-z0-9]{9}"), "Mistral's template wants 9 characters");
            assertStreamAgrees(ToolCallSyntax.MISTRAL, answer);
        }
        assertEquals(
                "Sure.",
                parse(ToolCallSyntax.MISTRAL, "Sure. [TOOL_CALLS] " + array).content());
        for (String text : List.of("[1] First point", "[{\"x\": 1}]", "[]")) {
            assertEquals(text, parse(ToolCallSyntax.MISTRAL, text).content());
            assertStreamAgrees(ToolCallSyntax.MISTRAL, text);
        }
    }

    // ---- generic

    @Test
    void genericAnswersAreJsonCallsOrText() {
        String calls = "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": " + PARIS
                + "}, {\"name\": \"get_time\", \"arguments\": {}}]}";
        ToolCallStream.Parsed p = parse(ToolCallSyntax.GENERIC, calls);
        assertEquals(2, p.calls().size());
        assertEquals(PARIS, p.calls().getFirst().arguments(), "arguments as written");
        assertNull(p.content());
        assertStreamAgrees(ToolCallSyntax.GENERIC, calls);
        assertStreamAgrees(ToolCallSyntax.GENERIC, "  {  \"tool_calls\" :[ {\"name\": \"get_time\"} ] }");
        for (String text : List.of(
                "Plain words.",
                "{\"response\": \"Hello!\"}",
                "{\"tool_calls\": [{\"name\": \"nope\", \"arguments\": {}}]}",
                "{\"other\": 1}",
                "{\"tool_calls\": 5}")) {
            assertEquals(text, parse(ToolCallSyntax.GENERIC, text).content());
            assertStreamAgrees(ToolCallSyntax.GENERIC, text);
        }
        // cut off after a complete call: it stands
        String cut = "{\"tool_calls\": [{\"name\": \"get_time\", \"arguments\": {}}, {\"name\": \"get_w";
        assertEquals(1, parse(ToolCallSyntax.GENERIC, cut).calls().size());
    }

    // ---- detection from the real templates

    @Test
    void theSyntaxIsRecognisedFromTheModelsTemplates() throws IOException {
        Path dir = Path.of("../../shared/reference/chat-templates");
        assertEquals(ToolCallSyntax.HERMES, detect(dir, "Qwen-Qwen2.5-7B-Instruct"));
        assertEquals(ToolCallSyntax.HERMES, detect(dir, "Qwen-Qwen3-0.6B"));
        assertEquals(ToolCallSyntax.HERMES, detect(dir, "NousResearch-Hermes-3-Llama-3.1-8B-tool_use"));
        assertEquals(ToolCallSyntax.LLAMA3, detect(dir, "meta-llama-Llama-3.1-8B-Instruct"));
        assertEquals(ToolCallSyntax.MISTRAL, detect(dir, "mistralai-Mistral-Nemo-Instruct-2407"));
        assertEquals(ToolCallSyntax.GENERIC, detect(dir, "google-gemma-2-2b-it"));
        assertEquals(ToolCallSyntax.GENERIC, detect(dir, "microsoft-Phi-3.5-mini-instruct"));
        assertEquals(ToolCallSyntax.GENERIC, ToolCallSyntax.of(null));
    }

    private static ToolCallSyntax detect(Path dir, String name) throws IOException {
        return ToolCallSyntax.detect(Files.readString(dir.resolve(name + ".jinja")));
    }

    @Test
    void callIdsAreFresh() {
        Pattern call = Pattern.compile("call_[A-Za-z0-9]{24}");
        String a = ToolCallSyntax.HERMES.newCallId(), b = ToolCallSyntax.HERMES.newCallId();
        Matcher m = call.matcher(a);
        assertTrue(m.matches(), a);
        assertFalse(a.equals(b));
    }
}
