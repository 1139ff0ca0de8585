package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.Grammar;
import dev.anvil.engine.GrammarState;
import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Constrained decoding against the real server and the tiny default model (stories260k, which knows nothing of
 * JSON): {@code response_format} json_object and json_schema output always parses and validates, plain and
 * streamed, over seeds and temperatures; the {@code grammar} GBNF extension on both endpoints; a token limit too
 * small ends with {@code length}; bad schemas and grammars are 400s naming the field.
 */
@ExtendWith(AnvilServerExtension.class)
class ConstrainedDecodingIT {

    static final String SCHEMA = "{\"type\":\"object\",\"properties\":{"
            + "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":10},"
            + "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":120},"
            + "\"pet\":{\"enum\":[\"cat\",\"dog\",\"none\"]},"
            + "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":5},\"maxItems\":2},"
            + "\"born\":{\"type\":\"string\",\"format\":\"date\"},"
            + "\"ok\":{\"type\":\"boolean\"}},"
            + "\"required\":[\"name\",\"age\",\"pet\",\"born\"],\"additionalProperties\":false}";

    static String schemaFormat(String schema) {
        return "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"person\",\"schema\":" + schema
                + "}}";
    }

    static String sampling(long seed, double temperature) {
        return "\"seed\":" + seed + ",\"temperature\":" + temperature;
    }

    /** The schema's rules, checked by hand on the parsed answer. */
    static void assertValidPerson(String content) {
        JsonObject o = OpenAi.json(content);
        Set<String> allowed = Set.of("name", "age", "pet", "tags", "born", "ok");
        for (String k : o.keySet()) assertTrue(allowed.contains(k), "unexpected member " + k + " in " + content);
        String name = o.getString("name");
        int length = name.codePointCount(0, name.length());
        assertTrue(length >= 1 && length <= 10, content);
        int age = o.getJsonNumber("age").intValueExact();
        assertTrue(age >= 0 && age <= 120, content);
        assertTrue(List.of("cat", "dog", "none").contains(o.getString("pet")), content);
        java.time.LocalDate.parse(o.getString("born"));
        if (o.containsKey("tags")) {
            JsonArray tags = o.getJsonArray("tags");
            assertTrue(tags.size() <= 2, content);
            for (JsonValue t : tags) assertTrue(((JsonString) t).getString().length() <= 5, content);
        }
        if (o.containsKey("ok")) assertTrue(o.get("ok") == JsonValue.TRUE || o.get("ok") == JsonValue.FALSE, content);
    }

    static JsonObject choice(HttpResult r) {
        assertEquals(200, r.status(), r::toString);
        return r.json().getJsonArray("choices").getJsonObject(0);
    }

    @Test
    void jsonSchemaOutputAlwaysValidates(AnvilServer server) {
        double[] temperatures = {0, 0.7, 1.0, 1.3};
        for (int seed = 1; seed <= 8; seed++) {
            double t = temperatures[seed % temperatures.length];
            HttpResult r = OpenAi.postUncached(
                    server,
                    "/v1/chat/completions",
                    OpenAi.chat("Describe a person", 400, schemaFormat(SCHEMA) + "," + sampling(seed, t)));
            JsonObject c = choice(r);
            assertEquals("stop", c.getString("finish_reason"), r::toString);
            assertValidPerson(c.getJsonObject("message").getString("content"));
            assertFalse(r.headers().firstValue("X-Anvil-Guardrails").orElse("").contains("json_output"), r::toString);
        }
    }

    @Test
    void streamedJsonSchemaOutputValidates(AnvilServer server) {
        for (int seed = 11; seed <= 14; seed++) {
            OpenAi.Stream s = OpenAi.stream(
                    server,
                    "/v1/chat/completions",
                    OpenAi.chat(
                            "Describe a person",
                            400,
                            schemaFormat(SCHEMA) + "," + sampling(seed, 1.0) + ",\"stream\":true"),
                    OpenAi.UNCACHED);
            assertEquals(200, s.status(), s::toString);
            assertTrue(s.done(), s::toString);
            StringBuilder text = new StringBuilder();
            String finish = null;
            for (JsonObject e : s.events()) {
                String piece = OpenAi.chunkText(e);
                if (piece != null) text.append(piece);
                JsonArray choices = e.getJsonArray("choices");
                if (choices != null
                        && !choices.isEmpty()
                        && !choices.getJsonObject(0).isNull("finish_reason"))
                    finish = choices.getJsonObject(0).getString("finish_reason");
            }
            assertEquals("stop", finish, s::toString);
            assertValidPerson(text.toString());
        }
    }

    @Test
    void jsonObjectOutputIsJson(AnvilServer server) {
        Grammar object = Grammar.parse(dev.anvil.engine.JsonSchemaGrammar.JSON_OBJECT);
        for (int seed = 1; seed <= 6; seed++) {
            HttpResult r = OpenAi.postUncached(
                    server,
                    "/v1/chat/completions",
                    OpenAi.chat(
                            "Tell a story",
                            120,
                            "\"response_format\":{\"type\":\"json_object\"},"
                                    + sampling(seed, seed % 2 == 0 ? 0.8 : 1.2)));
            JsonObject c = choice(r);
            String content = c.getJsonObject("message").getString("content");
            GrammarState s = GrammarState.initial(object).advance(content.getBytes(StandardCharsets.UTF_8));
            if (c.getString("finish_reason").equals("stop")) {
                assertTrue(s != null && s.isComplete(), content);
                OpenAi.json(content); // an object, or this throws
            } else {
                // A story model writes stories inside the strings: cut at max_tokens, the text is a valid prefix.
                assertEquals("length", c.getString("finish_reason"), r::toString);
                assertTrue(s != null, "a prefix of a JSON object: " + content);
            }
        }
    }

    @Test
    void aTokenLimitTooSmallEndsWithLengthAndAPrefix(AnvilServer server) {
        HttpResult r = OpenAi.postUncached(
                server,
                "/v1/chat/completions",
                OpenAi.chat("Describe a person", 3, schemaFormat(SCHEMA) + "," + sampling(5, 0)));
        JsonObject c = choice(r);
        assertEquals("length", c.getString("finish_reason"), r::toString);
        String content = c.getJsonObject("message").getString("content");
        assertTrue(content.startsWith("{"), content);
        assertTrue(
                GrammarState.initial(Grammar.parse(dev.anvil.engine.JsonSchemaGrammar.gbnf(SCHEMA)))
                                .advance(content.getBytes(StandardCharsets.UTF_8))
                        != null,
                "the cut output is a prefix of a valid document: " + content);
    }

    static final String YES_NO = "root ::= (\"yes\" | \"no\") \", \" [a-z]{2,6} \".\"";

    @Test
    void gbnfGrammarsConstrainCompletionsAndChat(AnvilServer server) {
        Grammar g = Grammar.parse(YES_NO);
        for (int seed = 1; seed <= 4; seed++) {
            HttpResult r = OpenAi.postUncached(
                    server,
                    "/v1/completions",
                    OpenAi.completion(
                            "Once upon a time", 40, "\"grammar\":" + OpenAi.quote(YES_NO) + "," + sampling(seed, 1.0)));
            JsonObject c = choice(r);
            String text = c.getString("text");
            assertEquals("stop", c.getString("finish_reason"), r::toString);
            assertTrue(text.matches("(yes|no), [a-z]{2,6}\\."), text);
        }
        OpenAi.Stream s = OpenAi.stream(
                server,
                "/v1/chat/completions",
                OpenAi.chat("Answer", 40, "\"grammar\":" + OpenAi.quote(YES_NO) + ",\"stream\":true," + sampling(9, 1)),
                OpenAi.UNCACHED);
        StringBuilder text = new StringBuilder();
        for (JsonObject e : s.events()) {
            String piece = OpenAi.chunkText(e);
            if (piece != null) text.append(piece);
        }
        GrammarState end = GrammarState.initial(g).advance(text.toString().getBytes(StandardCharsets.UTF_8));
        assertTrue(end != null && end.canEnd(), text::toString);
    }

    @Test
    void logprobsReportTheMaskedDistribution(AnvilServer server) {
        HttpResult r = OpenAi.postUncached(
                server,
                "/v1/chat/completions",
                OpenAi.chat(
                        "Pick a digit",
                        1,
                        "\"grammar\":\"root ::= [0-9]\",\"logprobs\":true,\"top_logprobs\":5,\"temperature\":0"));
        JsonObject c = choice(r);
        JsonObject lp = c.getJsonObject("logprobs").getJsonArray("content").getJsonObject(0);
        assertTrue(lp.getString("token").matches("[0-9]"), lp::toString);
        JsonArray top = lp.getJsonArray("top_logprobs");
        assertEquals(5, top.size(), lp::toString);
        for (JsonValue alt : top)
            assertTrue(
                    ((JsonObject) alt).getString("token").matches("[0-9]"), "masked tokens are no alternatives: " + lp);
    }

    static JsonObject error(HttpResult r) {
        assertEquals(400, r.status(), r::toString);
        return r.json().getJsonObject("error");
    }

    @Test
    void badSchemasAndGrammarsAre400sNamingTheField(AnvilServer server) {
        JsonObject e = error(OpenAi.postUncached(
                server,
                "/v1/chat/completions",
                OpenAi.chat(
                        "x",
                        4,
                        schemaFormat("{\"type\":\"object\",\"patternProperties\":{\"^a\":{\"type\":\"string\"}}}"))));
        assertEquals("response_format.json_schema.schema", e.getString("param"));
        assertEquals(
                "response_format.json_schema.schema: keyword 'patternProperties' is not supported",
                e.getString("message"));

        e = error(OpenAi.postUncached(
                server,
                "/v1/chat/completions",
                OpenAi.chat("x", 4, schemaFormat("{\"type\":\"string\",\"format\":\"hostname\"}"))));
        assertEquals("response_format.json_schema.schema", e.getString("param"));
        assertTrue(e.getString("message").contains("format 'hostname' is not supported"), e::toString);

        e = error(OpenAi.postUncached(
                server, "/v1/completions", OpenAi.completion("x", 4, "\"grammar\":\"root ::= \\\"a\\\"\\nb ::= [x\"")));
        assertEquals("grammar", e.getString("param"));
        assertTrue(e.getString("message").contains("line 2, column 7"), e::toString);

        e = error(OpenAi.postUncached(
                server, "/v1/completions", OpenAi.completion("x", 4, "\"grammar\":\"root ::= root \\\"a\\\"\"")));
        assertTrue(e.getString("message").contains("left recursion"), e::toString);

        e = error(OpenAi.postUncached(
                server,
                "/v1/completions",
                OpenAi.completion("x", 4, "\"grammar\":" + OpenAi.quote("root ::= \"" + "a".repeat(70_000) + "\""))));
        assertEquals("grammar", e.getString("param"));
        assertTrue(e.getString("message").contains("anvil.api.grammar.max-chars"), e::toString);

        e = error(OpenAi.postUncached(
                server,
                "/v1/chat/completions",
                OpenAi.chat(
                        "x", 4, "\"grammar\":\"root ::= \\\"a\\\"\",\"response_format\":{\"type\":\"json_object\"}")));
        assertEquals("grammar", e.getString("param"));

        e = error(OpenAi.postUncached(server, "/v1/completions", OpenAi.completion("x", 4, "\"grammar\":7")));
        assertEquals("grammar", e.getString("param"));
    }
}
