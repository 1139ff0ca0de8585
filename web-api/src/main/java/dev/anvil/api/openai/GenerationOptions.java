package dev.anvil.api.openai;

import dev.anvil.api.ApiException;
import dev.anvil.engine.SamplingParams;
import dev.anvil.routing.Route;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The request fields shared by {@code /v1/completions} and {@code /v1/chat/completions}, validated.
 *
 * @param model        model reference ({@code name} or {@code name@version})
 * @param sampling     temperature, top_p, penalties, seed (random when not given) and the llama.cpp extensions
 *                     top_k, min_p, repetition_penalty
 * @param maxTokens    completion token limit, or null for "what the context leaves"
 * @param stop         up to {@link #MAX_STOP} stop strings
 * @param n            choices per prompt (upper bound enforced by the inference service's configuration)
 * @param stream       answer with Server-Sent Events
 * @param includeUsage with {@code stream}: send a last chunk with usage ({@code stream_options.include_usage})
 * @param user         the end-user id the client passed (an experiment's subject key; else only logged)
 * @param seedGiven    the client fixed {@code seed} (otherwise {@code sampling} carries a random one)
 * @param route        where experiment routing sent the request (null: no experiment covers it)
 */
record GenerationOptions(
        String model,
        SamplingParams sampling,
        Integer maxTokens,
        List<String> stop,
        int n,
        boolean stream,
        boolean includeUsage,
        String user,
        boolean seedGiven,
        Route route) {

    /**
     * These options served by {@code route}'s variant: its exact version, and its temperature, top_p and max_tokens
     * where the variant sets them (they override the caller's: the variant is what the experiment measures).
     */
    GenerationOptions routedTo(Route route) {
        SamplingParams s = sampling;
        if (route.temperature() != null)
            s = s.withTemperature(route.temperature().floatValue());
        if (route.topP() != null) s = s.withTopP(route.topP().floatValue());
        return new GenerationOptions(
                route.modelRef(),
                s,
                route.maxTokens() != null ? route.maxTokens() : maxTokens,
                stop,
                n,
                stream,
                includeUsage,
                user,
                seedGiven,
                route);
    }

    /** These options served by {@code model}, the model a cost-aware router chose ({@link CostRouting}). */
    GenerationOptions servedBy(String model) {
        return new GenerationOptions(model, sampling, maxTokens, stop, n, stream, includeUsage, user, seedGiven, route);
    }

    /** OpenAI's limit on stop sequences. */
    static final int MAX_STOP = 4;

    /**
     * @param maxTokensKeys the token-limit fields in order of precedence (chat: max_completion_tokens, max_tokens)
     */
    static GenerationOptions parse(JsonObject body, List<String> maxTokensKeys) {
        String model = Fields.string(body, "model", "model");
        if (model == null || model.isBlank()) {
            throw ApiException.badRequest("'model' is required", "model");
        }

        SamplingParams sampling = SamplingParams.DEFAULTS;
        Double temperature = Fields.ranged(body, "temperature", 0, false, 2);
        if (temperature != null) sampling = sampling.withTemperature(temperature.floatValue());
        Double topP = Fields.ranged(body, "top_p", 0, true, 1);
        if (topP != null) sampling = sampling.withTopP(topP.floatValue());
        Double presence = Fields.ranged(body, "presence_penalty", -2, false, 2);
        if (presence != null) sampling = sampling.withPresencePenalty(presence.floatValue());
        Double frequency = Fields.ranged(body, "frequency_penalty", -2, false, 2);
        if (frequency != null) sampling = sampling.withFrequencyPenalty(frequency.floatValue());
        // llama.cpp server extensions, accepted because clients written for it send them.
        Integer topK = Fields.intAtLeast(body, "top_k", 0);
        if (topK != null) sampling = sampling.withTopK(topK);
        Double minP = Fields.ranged(body, "min_p", 0, false, 1);
        if (minP != null) sampling = sampling.withMinP(minP.floatValue());
        Double repetition = Fields.ranged(body, "repetition_penalty", 0, true, 10);
        if (repetition != null) sampling = sampling.withRepetitionPenalty(repetition.floatValue());
        Long seed = Fields.integer(body, "seed", "seed");
        // Without a seed every request samples differently, as clients of OpenAI's API expect.
        sampling = sampling.withSeed(
                seed != null ? seed : ThreadLocalRandom.current().nextLong() >>> 1);

        Integer maxTokens = null;
        for (String key : maxTokensKeys) {
            maxTokens = Fields.intAtLeast(body, key, 1);
            if (maxTokens != null) break;
        }
        Integer n = Fields.intAtLeast(body, "n", 1);

        boolean stream = Boolean.TRUE.equals(Fields.bool(body, "stream", "stream"));
        boolean includeUsage = false;
        JsonObject streamOptions = Fields.object(body, "stream_options", "stream_options");
        if (streamOptions != null) {
            if (!stream) {
                throw ApiException.badRequest(
                        "'stream_options' is only allowed when 'stream' is true", "stream_options");
            }
            includeUsage =
                    Boolean.TRUE.equals(Fields.bool(streamOptions, "include_usage", "stream_options.include_usage"));
        }
        String user = Fields.string(body, "user", "user");
        return new GenerationOptions(
                model.trim(),
                sampling,
                maxTokens,
                stop(body),
                n == null ? 1 : n,
                stream,
                includeUsage,
                user,
                seed != null,
                null);
    }

    private static List<String> stop(JsonObject body) {
        JsonValue v = Fields.value(body, "stop");
        if (v == null) return List.of();
        if (v.getValueType() == JsonValue.ValueType.STRING) {
            return List.of(((JsonString) v).getString());
        }
        if (v.getValueType() != JsonValue.ValueType.ARRAY) {
            throw ApiException.badRequest(
                    "'stop' must be a string or an array of strings, got " + Fields.typeName(v), "stop");
        }
        var array = v.asJsonArray();
        if (array.size() > MAX_STOP) {
            throw ApiException.badRequest(
                    "'stop' may hold at most " + MAX_STOP + " sequences, got " + array.size(), "stop");
        }
        List<String> stops = new ArrayList<>(array.size());
        for (JsonValue item : array) {
            if (item.getValueType() != JsonValue.ValueType.STRING) {
                throw ApiException.badRequest("'stop' must contain only strings, got " + Fields.typeName(item), "stop");
            }
            stops.add(((JsonString) item).getString());
        }
        return List.copyOf(stops);
    }
}
