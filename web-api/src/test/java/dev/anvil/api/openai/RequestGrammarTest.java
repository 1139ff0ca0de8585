package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.api.ApiException;
import dev.anvil.engine.GrammarState;
import dev.anvil.engine.JsonSchemaGrammar;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The grammar a request asks for: response_format compiled to GBNF, the {@code grammar} field, their refusals. */
class RequestGrammarTest {

    private static JsonObject body(String fields) {
        return Json.createReader(new StringReader("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                        + "\"hi\"}],\"prompt\":\"p\"" + fields + "}"))
                .readObject();
    }

    private static RequestGrammars compiler() {
        RequestGrammars g = new RequestGrammars();
        g.config = new OpenAiConfig();
        g.config.grammarMaxChars = 100;
        g.config.grammarMaxRules = 8192;
        g.config.grammarMaxStackDepth = 64;
        return g;
    }

    @Test
    void responseFormatsBecomeGrammars() {
        assertNull(ChatRequest.parse(body("")).grammar());
        RequestGrammar object = ChatRequest.parse(body(",\"response_format\":{\"type\":\"json_object\"}"))
                .grammar();
        assertEquals(JsonSchemaGrammar.JSON_OBJECT, object.gbnf());
        RequestGrammar schema = ChatRequest.parse(body(",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
                        + "{\"name\":\"n\",\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"const\":1}},"
                        + "\"required\":[\"a\"]}}}"))
                .grammar();
        assertEquals("response_format.json_schema.schema", schema.param());
        GrammarState s = GrammarState.initial(compiler().compile(schema).grammar())
                .advance("{\"a\":1}".getBytes(StandardCharsets.UTF_8));
        assertTrue(s != null && s.isComplete());
    }

    @Test
    void theGrammarFieldOnBothEndpoints() {
        assertEquals(
                "root ::= \"x\"",
                CompletionRequest.parse(body(",\"grammar\":\"root ::= \\\"x\\\"\""))
                        .grammar()
                        .gbnf());
        assertEquals(
                "grammar",
                ChatRequest.parse(body(",\"grammar\":\"root ::= \\\"x\\\"\""))
                        .grammar()
                        .param());
        assertNull(CompletionRequest.parse(body("")).grammar());
    }

    @Test
    void refusalsNameTheField() {
        ApiException e = assertThrows(
                ApiException.class,
                () -> ChatRequest.parse(body(",\"response_format\":{\"type\":"
                        + "\"json_schema\",\"json_schema\":{\"name\":\"n\",\"schema\":{\"type\":\"object\",\"properties\":{\"a\":"
                        + "{\"type\":\"string\",\"format\":\"ipv6\"}}}}}")));
        assertEquals("response_format.json_schema.schema", e.param());
        assertTrue(
                e.getMessage().startsWith("response_format.json_schema.schema: format 'ipv6' is not supported")
                        && e.getMessage().endsWith("(at /properties/a)"),
                e.getMessage());
        e = assertThrows(
                ApiException.class,
                () -> ChatRequest.parse(
                        body(",\"grammar\":\"root ::= \\\"x\\\"\",\"response_format\":{\"type\":\"json_object\"}")));
        assertEquals("grammar", e.param());
        e = assertThrows(ApiException.class, () -> CompletionRequest.parse(body(",\"grammar\":\" \"")));
        assertEquals("grammar", e.param());
        RequestGrammars g = compiler();
        e = assertThrows(ApiException.class, () -> g.compile(new RequestGrammar("root ::= x", "grammar")));
        assertTrue(e.getMessage().contains("'x' is used but not defined (line 1, column 10)"), e.getMessage());
        e = assertThrows(
                ApiException.class,
                () -> g.compile(new RequestGrammar("root ::= \"" + "a".repeat(100) + "\"", "grammar")));
        assertTrue(e.getMessage().contains("anvil.api.grammar.max-chars"), e.getMessage());
        assertEquals(
                g.compile(new RequestGrammar("root ::= \"a\"", "grammar")).grammar(),
                g.compile(new RequestGrammar("root ::= \"a\"", "grammar")).grammar(),
                "compiled once, by text");
    }
}
