package dev.anvil.guardrails;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaException;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaValidatorsConfig;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import com.networknt.schema.resource.AllowSchemaLoader;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * What an OpenAI {@code response_format} asks of the generated text: any JSON object ({@code json_object}), or a
 * JSON value valid against a JSON Schema ({@code json_schema}; draft 2020-12 unless the schema names another
 * {@code $schema}). Validation uses the networknt json-schema-validator (bundled in the EAR's lib/). A schema is a
 * client's input: it may only refer to the meta-schemas bundled with the validator; a {@code $ref} to any other
 * URI (which would make the server fetch it) fails the schema.
 */
public final class JsonOutputRequirement {

    public enum Kind {
        JSON_OBJECT("json_object"),
        JSON_SCHEMA("json_schema");

        private final String wireName;

        Kind(String wireName) {
            this.wireName = wireName;
        }

        public String wireName() {
            return wireName;
        }
    }

    /** Most problems reported in one message. */
    private static final int MAX_PROBLEMS = 5;

    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final JsonSchemaFactory SCHEMAS = JsonSchemaFactory.getInstance(
            SpecVersion.VersionFlag.V202012,
            builder -> builder.schemaLoaders(loaders -> loaders.values(list ->
                    list.addFirst(new AllowSchemaLoader(iri -> iri.toString().startsWith("classpath:")
                            || iri.toString().startsWith("resource:"))))));
    private static final JsonOutputRequirement OBJECT = new JsonOutputRequirement(Kind.JSON_OBJECT, null, null);
    /** A client's schema runs its regular expressions on RE2/J (linear time), never on java.util.regex. */
    private static final SchemaValidatorsConfig CLIENT_SCHEMAS = SchemaValidatorsConfig.builder()
            .regularExpressionFactory(LinearTimeRegex.INSTANCE)
            .build();

    private final Kind kind;
    private final String name;
    private final JsonSchema schema;

    private JsonOutputRequirement(Kind kind, String name, JsonSchema schema) {
        this.kind = kind;
        this.name = name;
        this.schema = schema;
    }

    /** {@code {"type": "json_object"}}: the text must be one JSON object. */
    public static JsonOutputRequirement object() {
        return OBJECT;
    }

    /**
     * {@code {"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}}.
     *
     * @param schemaJson the schema as JSON text
     * @throws IllegalArgumentException if it is not a valid JSON Schema (the message says why)
     */
    public static JsonOutputRequirement schema(String name, String schemaJson) {
        JsonNode node;
        try {
            node = JSON.readTree(schemaJson);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the schema is not JSON: " + e.getOriginalMessage());
        }
        if (node == null || !(node.isObject() || node.isBoolean())) {
            throw new IllegalArgumentException("a JSON Schema must be an object or a boolean");
        }
        try {
            JsonSchema metaSchema = SCHEMAS.getSchema(SchemaLocation.of(metaSchemaOf(node)));
            Set<ValidationMessage> problems = metaSchema.validate(node);
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException("the schema is not a valid JSON Schema: " + describe(problems));
            }
            JsonSchema compiled = SCHEMAS.getSchema(node, CLIENT_SCHEMAS);
            compiled.initializeValidators(); // resolves every $ref and compiles every pattern now, so a bad one fails
            // the request
            return new JsonOutputRequirement(Kind.JSON_SCHEMA, name, compiled);
        } catch (LinearTimeRegex.UnsupportedPattern e) {
            throw patternRefusal(node, e);
        } catch (JsonSchemaException | IllegalStateException | UnsupportedOperationException e) {
            LinearTimeRegex.UnsupportedPattern unsupported = unsupportedPattern(e);
            if (unsupported != null) throw patternRefusal(node, unsupported);
            throw new IllegalArgumentException("the schema cannot be used: " + e.getMessage());
        }
    }

    private static IllegalArgumentException patternRefusal(JsonNode schema, LinearTimeRegex.UnsupportedPattern e) {
        return new IllegalArgumentException("the schema's '" + keywordOf(schema, e.pattern) + "' " + quote(e.pattern)
                + " cannot be used: " + e.getMessage()
                + " (output is checked with a linear-time regular expression engine, "
                + "RE2, which has no lookaround and no backreferences)");
    }

    private static LinearTimeRegex.UnsupportedPattern unsupportedPattern(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof LinearTimeRegex.UnsupportedPattern u) return u;
        }
        return null;
    }

    /** Which keyword holds {@code pattern}: {@code pattern} (also inside propertyNames), else {@code patternProperties}. */
    private static String keywordOf(JsonNode schema, String pattern) {
        if (!schema.findValues("pattern").stream()
                .filter(v -> v.isTextual() && v.asText().equals(pattern))
                .toList()
                .isEmpty()) {
            return "pattern";
        }
        return schema.findValues("patternProperties").isEmpty() ? "format: regex" : "patternProperties";
    }

    private static String quote(String pattern) {
        String shown = pattern.length() > 80 ? pattern.substring(0, 80) + "..." : pattern;
        return "\"" + shown + "\"";
    }

    private static String metaSchemaOf(JsonNode schema) {
        JsonNode declared = schema.isObject() ? schema.get("$schema") : null;
        return declared != null && declared.isTextual() ? declared.asText() : SpecVersion.VersionFlag.V202012.getId();
    }

    public Kind kind() {
        return kind;
    }

    /** The {@code json_schema.name}, or null. */
    public String name() {
        return name;
    }

    /** Why {@code text} does not meet the requirement, or an empty list when it does. */
    public List<String> problems(String text) {
        JsonNode node;
        try {
            node = JSON.readTree(text == null ? "" : text);
        } catch (JsonProcessingException e) {
            return List.of("the output is not valid JSON: " + e.getOriginalMessage());
        }
        if (node == null || node.isMissingNode()) return List.of("the output is empty, not JSON");
        if (kind == Kind.JSON_OBJECT) {
            return node.isObject()
                    ? List.of()
                    : List.of("the output is JSON but not an object ("
                            + node.getNodeType().name().toLowerCase() + ")");
        }
        Set<ValidationMessage> messages = schema.validate(node);
        if (messages.isEmpty()) return List.of();
        return List.of("the output does not match the schema" + (name == null ? "" : " '" + name + "'") + ": "
                + describe(messages));
    }

    private static String describe(Set<ValidationMessage> messages) {
        List<String> texts = new ArrayList<>();
        messages.stream()
                .map(ValidationMessage::getMessage)
                .sorted(Comparator.naturalOrder())
                .limit(MAX_PROBLEMS)
                .forEach(texts::add);
        String more = messages.size() > MAX_PROBLEMS ? " (and " + (messages.size() - MAX_PROBLEMS) + " more)" : "";
        return String.join("; ", texts) + more;
    }
}
