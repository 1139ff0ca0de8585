package dev.anvil.api.openai;

import dev.anvil.api.ApiException;
import dev.anvil.engine.JsonSchemaGrammar;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;

/**
 * The grammar a request asks its output to follow, as GBNF text, and the request field it came from (errors name
 * it): the {@code grammar} extension (GBNF, as llama.cpp's server takes it) or {@code response_format}
 * {@code json_object} / {@code json_schema} compiled to GBNF. {@link RequestGrammars} compiles it.
 *
 * @param gbnf  the grammar's text
 * @param param the request field that holds it ({@code grammar}, {@code response_format},
 *              {@code response_format.json_schema.schema})
 */
record RequestGrammar(String gbnf, String param) {

    static final String FIELD = "grammar";

    /** The {@code grammar} field, or null when absent. */
    static RequestGrammar field(JsonObject body) {
        String gbnf = Fields.string(body, FIELD, FIELD);
        if (gbnf == null) return null;
        if (gbnf.isBlank()) throw ApiException.badRequest("'grammar' must not be empty", FIELD);
        return new RequestGrammar(gbnf, FIELD);
    }

    /** {@code response_format: {"type": "json_object"}}: any JSON object. */
    static RequestGrammar jsonObject() {
        return new RequestGrammar(JsonSchemaGrammar.JSON_OBJECT, "response_format");
    }

    /** {@code response_format.json_schema.schema} compiled; what the compiler cannot express is a 400 naming it. */
    static RequestGrammar jsonSchema(JsonValue schema) {
        String param = "response_format.json_schema.schema";
        try {
            return new RequestGrammar(JsonSchemaGrammar.gbnf(schema.toString()), param);
        } catch (JsonSchemaGrammar.SchemaException e) {
            throw ApiException.badRequest(param + ": " + e.getMessage(), param);
        }
    }

    /** The request's grammar: the field, or what response_format asks for; both at once is a 400. */
    static RequestGrammar of(JsonObject body, RequestGrammar fromResponseFormat) {
        RequestGrammar field = field(body);
        if (field != null && fromResponseFormat != null)
            throw ApiException.badRequest(
                    "'grammar' cannot be combined with a JSON 'response_format'; use one of them", FIELD);
        return field != null ? field : fromResponseFormat;
    }
}
