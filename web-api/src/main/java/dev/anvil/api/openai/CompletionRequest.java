package dev.anvil.api.openai;

import dev.anvil.api.ApiException;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated {@code POST /v1/completions} body.
 *
 * @param options  the shared generation fields
 * @param prompts  one or more prompts: text, or token ids ({@code prompt} may be a string, an array of strings,
 *                 an array of token ids or an array of such arrays)
 * @param logprobs null, or how many most likely alternatives to report per token (0..20)
 * @param echo     whether to prepend the prompt text to each choice
 * @param grammar  the {@code grammar} extension (GBNF) decoding enforces, or null
 */
record CompletionRequest(
        GenerationOptions options, List<Prompt> prompts, Integer logprobs, boolean echo, RequestGrammar grammar) {

    /** Most prompts in one request (each gets {@code n} choices). */
    static final int MAX_PROMPTS = 16;

    /** Either text (tokenized with the model's tokenizer) or token ids given by the client. */
    record Prompt(String text, int[] tokens) {}

    static CompletionRequest parse(JsonObject body) {
        GenerationOptions options = GenerationOptions.parse(body, List.of("max_tokens"));
        Integer logprobs = null;
        Long lp = Fields.integer(body, "logprobs", "logprobs");
        if (lp != null) {
            if (lp < 0 || lp > 20) {
                throw ApiException.badRequest("'logprobs' must be between 0 and 20, got " + lp, "logprobs");
            }
            logprobs = lp.intValue();
        }
        boolean echo = Boolean.TRUE.equals(Fields.bool(body, "echo", "echo"));
        Long bestOf = Fields.integer(body, "best_of", "best_of");
        if (bestOf != null && bestOf != options.n()) {
            throw ApiException.badRequest("'best_of' other than n is not supported", "best_of");
        }
        if (Fields.given(body, "suffix")) {
            throw ApiException.badRequest("'suffix' (insertion) is not supported", "suffix");
        }
        return new CompletionRequest(options, prompts(body), logprobs, echo, RequestGrammar.field(body));
    }

    private static List<Prompt> prompts(JsonObject body) {
        JsonValue v = Fields.value(body, "prompt");
        if (v == null) {
            throw ApiException.badRequest("'prompt' is required", "prompt");
        }
        if (v.getValueType() == JsonValue.ValueType.STRING) {
            return List.of(new Prompt(((JsonString) v).getString(), null));
        }
        if (v.getValueType() != JsonValue.ValueType.ARRAY) {
            throw ApiException.badRequest(
                    "'prompt' must be a string, an array of strings, an array of token ids or an "
                            + "array of token id arrays; got " + Fields.typeName(v),
                    "prompt");
        }
        JsonArray array = v.asJsonArray();
        if (array.isEmpty()) {
            throw ApiException.badRequest("'prompt' must not be an empty array", "prompt");
        }
        if (array.get(0).getValueType() == JsonValue.ValueType.NUMBER) {
            return List.of(new Prompt(null, Fields.tokenIds(array, "prompt", "prompt")));
        }
        if (array.size() > MAX_PROMPTS) {
            throw ApiException.badRequest(
                    "'prompt' may hold at most " + MAX_PROMPTS + " prompts, got " + array.size(), "prompt");
        }
        List<Prompt> prompts = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++) {
            JsonValue item = array.get(i);
            switch (item.getValueType()) {
                case STRING -> prompts.add(new Prompt(((JsonString) item).getString(), null));
                case ARRAY ->
                    prompts.add(new Prompt(null, Fields.tokenIds(item.asJsonArray(), "prompt[" + i + "]", "prompt")));
                default ->
                    throw ApiException.badRequest(
                            "'prompt[" + i + "]' must be a string or an array of token ids, got "
                                    + Fields.typeName(item),
                            "prompt");
            }
        }
        return List.copyOf(prompts);
    }
}
