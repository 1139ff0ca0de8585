package dev.anvil.cache;

import dev.anvil.engine.SamplingParams;
import java.util.List;

/**
 * Everything that decides the generation of one API request, as submitted to inference: the exact model version
 * that answers (after routing), the prompt tokens (a chat request's rendered and tokenized conversation), the
 * sampling parameters and the limits. Fields that only shape the response (stream, stream_options, echo, user,
 * chat top_logprobs formatting) are deliberately absent: they are applied again to a cached generation.
 *
 * @param model     model name
 * @param version   the exact version that generates
 * @param prompts   token ids of each prompt, in order
 * @param sampling  the effective sampling parameters (a random seed when the client gave none)
 * @param seedGiven whether the client fixed {@code seed} (otherwise the seed is random and sampling is not repeatable)
 * @param maxTokens completion token limit, or null for "what the context leaves"
 * @param stop      stop strings in request order
 * @param n         choices per prompt
 * @param logprobs  alternatives per token asked for, or null when log-probabilities were not requested
 * @param scope     whose entries these are: the caller's tenant, or {@link #ANONYMOUS_SCOPE} for callers without an
 *                  API key. Entries of one scope are never answers to another: a hit would tell a tenant what another
 *                  one asked (and the answer it got)
 * @param grammar   what constrains the output ({@code response_format} JSON, the {@code grammar} extension, tool
 *                  calls): the grammar's source and its triggers, or null for nothing
 */
public record CacheableRequest(
        String model,
        String version,
        List<int[]> prompts,
        SamplingParams sampling,
        boolean seedGiven,
        Integer maxTokens,
        List<String> stop,
        int n,
        Integer logprobs,
        String scope,
        String grammar) {

    /** The scope every caller without an API key shares. */
    public static final String ANONYMOUS_SCOPE = "";

    /** Without a grammar. */
    public CacheableRequest(
            String model,
            String version,
            List<int[]> prompts,
            SamplingParams sampling,
            boolean seedGiven,
            Integer maxTokens,
            List<String> stop,
            int n,
            Integer logprobs,
            String scope) {
        this(model, version, prompts, sampling, seedGiven, maxTokens, stop, n, logprobs, scope, null);
    }

    /** A request of the anonymous scope. */
    public CacheableRequest(
            String model,
            String version,
            List<int[]> prompts,
            SamplingParams sampling,
            boolean seedGiven,
            Integer maxTokens,
            List<String> stop,
            int n,
            Integer logprobs) {
        this(model, version, prompts, sampling, seedGiven, maxTokens, stop, n, logprobs, ANONYMOUS_SCOPE, null);
    }

    public CacheableRequest {
        if (scope == null)
            throw new IllegalArgumentException("the scope is required (ANONYMOUS_SCOPE for callers without a key)");
        if (model == null || version == null) throw new IllegalArgumentException("model and version are required");
        if (prompts == null || prompts.isEmpty()) throw new IllegalArgumentException("at least one prompt is required");
        if (sampling == null) throw new IllegalArgumentException("sampling parameters are required");
        prompts = List.copyOf(prompts);
        stop = stop == null ? List.of() : List.copyOf(stop);
    }

    /** {@code name@version}. */
    public String modelRef() {
        return model + "@" + version;
    }
}
