package dev.anvil.guardrails;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class JsonOutputRequirementTest {

    private static final String PERSON = """
            {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
             "required": ["name", "age"], "additionalProperties": false}""";

    @Test
    void jsonObjectAcceptsAnObjectOnly() {
        JsonOutputRequirement r = JsonOutputRequirement.object();
        assertEquals(List.of(), r.problems(" {\"a\": [1, 2]} "));
        assertTrue(r.problems("[1, 2]").getFirst().contains("not an object"));
        assertTrue(r.problems("Once upon a time").getFirst().startsWith("the output is not valid JSON"));
        assertTrue(r.problems("{\"a\": 1} trailing").getFirst().startsWith("the output is not valid JSON"));
        assertTrue(r.problems("").getFirst().contains("empty"));
    }

    @Test
    void schemaValidationReportsWhatIsWrong() {
        JsonOutputRequirement r = JsonOutputRequirement.schema("person", PERSON);
        assertEquals(List.of(), r.problems("{\"name\": \"Ann\", \"age\": 7}"));
        String missing = r.problems("{\"name\": \"Ann\"}").getFirst();
        assertTrue(missing.contains("'person'") && missing.contains("age"), missing);
        String wrongType = r.problems("{\"name\": \"Ann\", \"age\": \"seven\"}").getFirst();
        assertTrue(wrongType.contains("integer"), wrongType);
        String extra = r.problems("{\"name\": \"Ann\", \"age\": 7, \"x\": 1}").getFirst();
        assertTrue(extra.contains("x"), extra);
        assertTrue(r.problems("{\"name\": \"Ann\", \"age\": -1}").getFirst().contains("minimum"));
    }

    @Test
    void invalidSchemasAreRefusedUpFront() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> JsonOutputRequirement.schema("s", "{not json"))
                .getMessage().startsWith("the schema is not JSON"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> JsonOutputRequirement.schema("s", "{\"type\": 5}"))
                .getMessage().startsWith("the schema is not a valid JSON Schema"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> JsonOutputRequirement.schema("s", "[1]"))
                .getMessage().contains("object or a boolean"));
    }

    @Test
    void remoteReferencesAreNotFetched() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonOutputRequirement.schema("s",
                "{\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"http://127.0.0.1:9/evil.json\"}}}"));
        assertTrue(e.getMessage().startsWith("the schema cannot be used"), e.getMessage());
    }
}
