package dev.anvil.api.openai;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated {@code POST /v1/embeddings} body, as OpenAI defines it: {@code input} a string, an array of strings, an
 * array of token ids (one input) or an array of token id arrays; {@code encoding_format} {@code float} (the default)
 * or {@code base64}; {@code dimensions} optional; {@code user} optional. What depends on the model (its width, its
 * context length, whether it may be shortened) is checked once it is resolved ({@link EmbeddingPipeline}).
 *
 * @param model      {@code name} or {@code name@version}
 * @param inputs     one or more inputs, in request order
 * @param base64     whether vectors go out as base64 of little-endian float32 (what OpenAI's clients ask for)
 * @param dimensions the requested width, or null for the model's
 * @param user       the end-user id, or null
 */
record EmbeddingRequest(String model, List<Input> inputs, boolean base64, Integer dimensions, String user) {

    /** Text (tokenized with the model's tokenizer, [CLS]/[SEP] added) or token ids given as they are. */
    record Input(String text, int[] tokens) {}

    static final String INPUT = "input";

    /**
     * @param maxInputs the most inputs one request may hold ({@code anvil.embeddings.max-inputs})
     */
    static EmbeddingRequest parse(JsonObject body, int maxInputs) {
        String model = Fields.string(body, "model", "model");
        if (model == null || model.isBlank()) throw ApiException.badRequest("'model' is required", "model");
        String format = Fields.string(body, "encoding_format", "encoding_format");
        boolean base64;
        if (format == null || format.equals("float")) base64 = false;
        else if (format.equals("base64")) base64 = true;
        else
            throw new ApiException(
                    400,
                    ApiErrors.TYPE_INVALID_REQUEST,
                    "'encoding_format' must be 'float' or 'base64', got '" + shorten(format) + "'",
                    "encoding_format",
                    "invalid_value");
        Long dims = Fields.integer(body, "dimensions", "dimensions");
        if (dims != null && (dims < 1 || dims > Integer.MAX_VALUE))
            throw ApiException.badRequest("'dimensions' must be at least 1, got " + dims, "dimensions");
        String user = Fields.string(body, "user", "user");
        return new EmbeddingRequest(
                model, inputs(body, maxInputs), base64, dims == null ? null : dims.intValue(), user);
    }

    private static List<Input> inputs(JsonObject body, int maxInputs) {
        JsonValue v = Fields.value(body, INPUT);
        if (v == null) throw ApiException.badRequest("'input' is required: a string or an array of strings", INPUT);
        if (v.getValueType() == JsonValue.ValueType.STRING) return List.of(text((JsonString) v, "input"));
        if (v.getValueType() != JsonValue.ValueType.ARRAY) {
            throw ApiException.badRequest(
                    "'input' must be a string, an array of strings, an array of token ids or an array of token id"
                            + " arrays; got " + Fields.typeName(v),
                    INPUT);
        }
        JsonArray array = v.asJsonArray();
        if (array.isEmpty()) throw ApiException.badRequest("'input' must not be an empty array", INPUT);
        if (array.get(0).getValueType() == JsonValue.ValueType.NUMBER)
            return List.of(new Input(null, Fields.tokenIds(array, "input", INPUT)));
        if (array.size() > maxInputs) {
            throw new ApiException(
                    400,
                    ApiErrors.TYPE_INVALID_REQUEST,
                    "'input' may hold at most " + maxInputs + " inputs, got " + array.size()
                            + "; split them over several requests",
                    INPUT,
                    "too_many_inputs");
        }
        List<Input> inputs = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++) {
            JsonValue item = array.get(i);
            String where = "input[" + i + "]";
            switch (item.getValueType()) {
                case STRING -> inputs.add(text((JsonString) item, where));
                case ARRAY -> inputs.add(new Input(null, Fields.tokenIds(item.asJsonArray(), where, INPUT)));
                default ->
                    throw ApiException.badRequest(
                            "'" + where + "' must be a string or an array of token ids, got " + Fields.typeName(item),
                            INPUT);
            }
        }
        return List.copyOf(inputs);
    }

    private static Input text(JsonString s, String where) {
        if (s.getString().isEmpty()) {
            throw ApiException.badRequest("'" + where + "' is an empty string: every input needs text", INPUT);
        }
        return new Input(s.getString(), null);
    }

    /** A client's value quoted in an error, cut so that a huge one is not echoed whole. */
    private static String shorten(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
