package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.api.ApiException;
import dev.anvil.guardrails.JsonOutputRequirement;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.StringReader;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code response_format} on chat requests, and redacted message contents. */
class ResponseFormatTest {

    private static ChatRequest chat(String responseFormat) {
        String body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
                + (responseFormat == null ? "" : ",\"response_format\":" + responseFormat) + "}";
        JsonObject o = Json.createReader(new StringReader(body)).readObject();
        return ChatRequest.parse(o);
    }

    private static ApiException refused(String responseFormat) {
        return assertThrows(ApiException.class, () -> chat(responseFormat));
    }

    @Test
    void textOrNothingAsksForNoJson() {
        assertNull(chat(null).jsonOutput());
        assertNull(chat("{\"type\":\"text\"}").jsonOutput());
    }

    @Test
    void jsonObjectAndJsonSchema() {
        assertEquals(
                JsonOutputRequirement.Kind.JSON_OBJECT,
                chat("{\"type\":\"json_object\"}").jsonOutput().kind());
        JsonOutputRequirement schema = chat("{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\",\"schema\":"
                        + "{\"type\":\"object\",\"required\":[\"a\"]}}}")
                .jsonOutput();
        assertEquals(JsonOutputRequirement.Kind.JSON_SCHEMA, schema.kind());
        assertEquals("n", schema.name());
        assertEquals(List.of(), schema.problems("{\"a\":1}"));
        assertTrue(schema.problems("{\"b\":1}").getFirst().contains("a"));
    }

    @Test
    void badFormatsNameTheirParam() {
        assertEquals("response_format.type", refused("{\"type\":\"yaml\"}").param());
        assertEquals("response_format.type", refused("{}").param());
        assertEquals(
                "response_format.json_schema",
                refused("{\"type\":\"json_schema\"}").param());
        assertEquals(
                "response_format.json_schema.schema",
                refused("{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\"}}")
                        .param());
        ApiException invalid =
                refused("{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"type\":\"nothing\"}}}");
        assertEquals("response_format.json_schema.schema", invalid.param());
        assertTrue(invalid.getMessage().contains("not a valid JSON Schema"), invalid.getMessage());
        assertEquals(400, invalid.status());
    }

    @Test
    void redactedContentsKeepRolesAndFormat() {
        ChatRequest r = chat("{\"type\":\"json_object\"}").withContents(List.of("[EMAIL]"));
        assertEquals("user", r.messages().getFirst().role());
        assertEquals("[EMAIL]", r.messages().getFirst().content());
        assertEquals(JsonOutputRequirement.Kind.JSON_OBJECT, r.jsonOutput().kind());
    }
}
