package dev.anvil.guardrails;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
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
                .getMessage()
                .startsWith("the schema is not JSON"));
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> JsonOutputRequirement.schema("s", "{\"type\": 5}"))
                        .getMessage()
                        .startsWith("the schema is not a valid JSON Schema"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> JsonOutputRequirement.schema("s", "[1]"))
                .getMessage()
                .contains("object or a boolean"));
    }

    @Test
    void remoteReferencesAreNotFetched() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> JsonOutputRequirement.schema(
                        "s",
                        "{\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"http://127.0.0.1:9/evil.json\"}}}"));
        assertTrue(e.getMessage().startsWith("the schema cannot be used"), e.getMessage());
    }

    /**
     * The pattern of the issue, with a bounded repetition as schemas write them: JDK 25's java.util.regex memoizes
     * {@code ^(\\w+\\s?)*$} but not {@code {1,64}}, where 24 word characters and a mismatch already take seconds and
     * 40 take longer than anyone waits.
     */
    static final String CATASTROPHIC = "{\"type\": \"object\", \"properties\": {\"word\": {\"type\": \"string\", "
            + "\"pattern\": \"^(\\\\w+\\\\s?){1,64}$\"}, \"star\": {\"type\": \"string\", \"pattern\": \"^(\\\\w+\\\\s?)*$\"}}}";

    @Test
    void aBacktrackingPatternAgainstAdversarialOutputFinishesInLinearTime() {
        JsonOutputRequirement r = JsonOutputRequirement.schema("w", CATASTROPHIC);
        String adversarial = "{\"word\": \"" + "a".repeat(5000) + "!\", \"star\": \"" + "a".repeat(5000) + "!\"}";
        // Preemptive: with a backtracking engine the match would never end, and the test must fail, not hang.
        List<String> problems = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> r.problems(adversarial));
        assertTrue(
                problems.getFirst().contains("does not match")
                        && problems.getFirst().contains("word")
                        && problems.getFirst().contains("star"),
                problems.toString());
        assertEquals(
                List.of(),
                r.problems("{\"word\": \"" + "ab ".repeat(60) + "\", \"star\": \"" + "ab ".repeat(1000) + "\"}"));
    }

    @Test
    void patternsAreJsonSchemaSearchesWithEcmaEscapes() {
        JsonOutputRequirement r =
                JsonOutputRequirement.schema("p", "{\"type\": \"string\", \"pattern\": \"\\\\u00e9t\\\\d{2}\"}");
        assertEquals(List.of(), r.problems("\"un \u00e9t42 ici\""));
        assertEquals(1, r.problems("\"et42\"").size());
        JsonOutputRequirement keys = JsonOutputRequirement.schema(
                "k", "{\"type\": \"object\", \"patternProperties\": {\"^x-\": {\"type\": \"integer\"}}}");
        assertEquals(List.of(), keys.problems("{\"x-a\": 1, \"b\": \"s\"}"));
        assertEquals(1, keys.problems("{\"x-a\": \"s\"}").size());
    }

    @Test
    void patternsTheLinearEngineCannotRunAreRefusedNamingTheKeyword() {
        IllegalArgumentException lookahead = assertThrows(
                IllegalArgumentException.class,
                () -> JsonOutputRequirement.schema("s", "{\"type\": \"string\", \"pattern\": \"^(?=.*[0-9]).+$\"}"));
        assertTrue(
                lookahead.getMessage().startsWith("the schema's 'pattern' \"^(?=.*[0-9]).+$\" cannot be used"),
                lookahead.getMessage());
        IllegalArgumentException backreference = assertThrows(
                IllegalArgumentException.class,
                () -> JsonOutputRequirement.schema(
                        "s", "{\"type\": \"object\", \"patternProperties\": {\"^(a)\\\\1$\": {}}}"));
        assertTrue(
                backreference.getMessage().startsWith("the schema's 'patternProperties'"), backreference.getMessage());
    }
}
