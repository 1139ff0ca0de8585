package dev.anvil.serving.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.GrammarConstraint;
import dev.anvil.engine.GrammarState;
import dev.anvil.engine.JsonSchemaGrammar;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The tool-call grammars accept exactly the calls {@link ToolCallStream} reads (every syntax, forced and auto), to the
 * allowed functions, with arguments that follow the schema; and refuse the rest.
 */
class ToolGrammarTest {

    static final String CITY = """
            {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
             "required": ["city"], "additionalProperties": false}""";
    static final String TIME = """
            {"type": "object", "properties": {"zone": {"type": "string"}, "hours": {"type": "integer"}},
             "required": ["zone"]}""";
    static final List<ToolGrammar.Function> BOTH =
            List.of(new ToolGrammar.Function("get_weather", CITY), new ToolGrammar.Function("get_time", TIME));
    static final Set<String> NAMES = Set.of("get_weather", "get_time");

    /** The state after {@code text}, or null when the grammar does not allow it. */
    static GrammarState after(GrammarConstraint c, String text) {
        GrammarState s = GrammarState.initial(c.grammar());
        return s.advance(text.getBytes(StandardCharsets.UTF_8));
    }

    static String call(ToolCallSyntax syntax, String name, String args) {
        return "{\"name\": \"" + name + "\", \"" + syntax.argumentsKey + "\": " + args + "}";
    }

    /** A syntax's complete answer holding {@code calls}, as the grammar writes it. */
    static String answer(ToolCallSyntax syntax, List<String> calls) {
        return switch (syntax) {
            case HERMES ->
                String.join(
                        "\n",
                        calls.stream()
                                .map(c -> "<tool_call>\n" + c + "\n</tool_call>")
                                .toList());
            case LLAMA3 -> calls.getFirst();
            case MISTRAL -> "[" + String.join(", ", calls) + "]";
            case GENERIC -> "{\"tool_calls\": [" + String.join(", ", calls) + "]}";
        };
    }

    @Test
    void aForcedGrammarAcceptsValidCallsThatTheReaderReadsBack() {
        for (ToolCallSyntax syntax : ToolCallSyntax.values()) {
            GrammarConstraint c = ToolGrammar.constraint(syntax, BOTH, true, true);
            assertFalse(c.isLazy(), syntax.name());
            String weather = call(syntax, "get_weather", "{\"city\": \"Paris\"}");
            String time = call(syntax, "get_time", "{\"zone\": \"CET\", \"hours\": 2}");
            List<List<String>> answers = syntax == ToolCallSyntax.LLAMA3
                    ? List.of(List.of(weather))
                    : List.of(List.of(weather), List.of(weather, time));
            for (List<String> calls : answers) {
                String text = answer(syntax, calls);
                GrammarState end = after(c, text);
                assertTrue(end != null && end.canEnd(), syntax + " should accept " + text);
                ToolCallStream.Parsed parsed = ToolCallStream.parse(syntax, NAMES, 128, text);
                assertEquals(calls.size(), parsed.calls().size(), syntax + ": " + text);
                assertNull(parsed.content(), syntax.name());
            }
        }
    }

    @Test
    void aForcedGrammarRefusesTextOtherFunctionsAndInvalidArguments() {
        for (ToolCallSyntax syntax : ToolCallSyntax.values()) {
            GrammarConstraint c = ToolGrammar.constraint(syntax, BOTH, true, true);
            assertNull(after(c, "Sure, "), syntax + " forced: no text");
            for (String bad : List.of(
                    call(syntax, "rm_rf", "{}"),
                    call(syntax, "get_weather", "{\"city\": \"Berlin\"}"),
                    call(syntax, "get_weather", "{\"town\": \"Paris\"}"),
                    call(syntax, "get_time", "{\"zone\": 5}"))) {
                String text = answer(syntax, List.of(bad));
                GrammarState end = after(c, text);
                assertTrue(end == null || !end.canEnd(), syntax + " should refuse " + text);
            }
        }
    }

    @Test
    void aNamedFunctionOrNoParallelCallsIsOneCallOfIt() {
        GrammarConstraint named = ToolGrammar.constraint(
                ToolCallSyntax.HERMES, List.of(new ToolGrammar.Function("get_time", TIME)), false, true);
        String time =
                answer(ToolCallSyntax.HERMES, List.of(call(ToolCallSyntax.HERMES, "get_time", "{\"zone\": \"CET\"}")));
        GrammarState end = after(named, time);
        assertTrue(end != null && end.isComplete(), "one call, then nothing may follow");
        assertNull(after(
                named, answer(ToolCallSyntax.HERMES, List.of(call(ToolCallSyntax.HERMES, "get_weather", "{}")))));
    }

    @Test
    void autoLeavesTextFreeAndConstrainsWhatOpensACall() {
        GrammarConstraint hermes = ToolGrammar.constraint(ToolCallSyntax.HERMES, BOTH, true, false);
        assertTrue(hermes.isLazy());
        assertEquals(List.of("<tool_call>"), hermes.triggers());
        for (ToolCallSyntax syntax : List.of(ToolCallSyntax.LLAMA3, ToolCallSyntax.MISTRAL, ToolCallSyntax.GENERIC)) {
            GrammarConstraint c = ToolGrammar.constraint(syntax, BOTH, true, false);
            assertFalse(c.isLazy(), syntax.name());
            GrammarState text = after(c, "  Hello! {not a call} [1] <b>");
            assertTrue(text != null && text.canEnd(), syntax + ": any text that does not open with the call");
            String valid = answer(syntax, List.of(call(syntax, "get_weather", "{\"city\": \"Rome\"}")));
            assertTrue(after(c, valid).canEnd(), syntax + ": " + valid);
            String invalid = answer(syntax, List.of(call(syntax, "get_weather", "{\"city\": \"Oslo\"}")));
            GrammarState refused = after(c, invalid);
            assertTrue(refused == null || !refused.canEnd(), syntax + ": " + invalid);
            assertTrue(after(c, "").canEnd(), syntax + ": an empty answer");
        }
    }

    @Test
    void aSchemaTheCompilerCannotExpressIsRefusedNamingTheKeyword() {
        JsonSchemaGrammar.SchemaException e = assertThrows(
                JsonSchemaGrammar.SchemaException.class,
                () -> ToolGrammar.constraint(
                        ToolCallSyntax.HERMES,
                        List.of(new ToolGrammar.Function(
                                "f",
                                "{\"type\": \"object\", \"patternProperties\": {\"^a\": {\"type\": \"string\"}}}")),
                        true,
                        true));
        assertEquals("patternProperties", e.keyword());
    }
}
