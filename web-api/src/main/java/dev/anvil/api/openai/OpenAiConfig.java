package dev.anvil.api.openai;

import dev.anvil.config.ConfigBounds;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * MicroProfile Config keys of the OpenAI-compatible API (system property, server config directory or
 * environment variable, e.g. {@code ANVIL_API_MAX_BODY_BYTES}).
 */
@ApplicationScoped
public class OpenAiConfig {

    /** {@code anvil.api.max-body-bytes}: request bodies larger than this get 413 before any parsing. */
    public static final String MAX_BODY_BYTES = "anvil.api.max-body-bytes";
    /** {@code anvil.api.request-timeout-seconds}: a request that has not finished by then is cancelled. */
    public static final String REQUEST_TIMEOUT_SECONDS = "anvil.api.request-timeout-seconds";

    /** {@code anvil.api.stream-write-timeout-seconds}: a stream whose write to the client blocks longer than this is cut. */
    public static final String STREAM_WRITE_TIMEOUT_SECONDS = "anvil.api.stream-write-timeout-seconds";
    /** {@code anvil.api.max-open-streams}: SSE streams the server keeps open at once; beyond it new ones get 503. */
    public static final String MAX_OPEN_STREAMS = "anvil.api.max-open-streams";

    /** {@code anvil.api.grammar.max-chars}: the longest GBNF text the {@code grammar} field may hold. */
    public static final String GRAMMAR_MAX_CHARS = "anvil.api.grammar.max-chars";

    /** {@code anvil.api.grammar.max-rules}: most rules a request's grammar compiles to (groups and repetitions count). */
    public static final String GRAMMAR_MAX_RULES = "anvil.api.grammar.max-rules";

    /** {@code anvil.api.grammar.max-stack-depth}: deepest nesting a grammar may reach while generating. */
    public static final String GRAMMAR_MAX_STACK_DEPTH = "anvil.api.grammar.max-stack-depth";

    @Inject
    @ConfigProperty(name = GRAMMAR_MAX_CHARS, defaultValue = "65536")
    int grammarMaxChars;

    @Inject
    @ConfigProperty(name = GRAMMAR_MAX_RULES, defaultValue = "8192")
    int grammarMaxRules;

    @Inject
    @ConfigProperty(name = GRAMMAR_MAX_STACK_DEPTH, defaultValue = "256")
    int grammarMaxStackDepth;

    @Inject
    @ConfigProperty(name = STREAM_WRITE_TIMEOUT_SECONDS, defaultValue = "30")
    long streamWriteTimeoutSeconds;

    @Inject
    @ConfigProperty(name = MAX_OPEN_STREAMS, defaultValue = "512")
    int maxOpenStreams;

    @Inject
    @ConfigProperty(name = MAX_BODY_BYTES, defaultValue = "4194304")
    long maxBodyBytes;

    @Inject
    @ConfigProperty(name = REQUEST_TIMEOUT_SECONDS, defaultValue = "600")
    long requestTimeoutSeconds;

    public long maxBodyBytes() {
        return ConfigBounds.atLeast(MAX_BODY_BYTES, maxBodyBytes, 1);
    }

    public long streamWriteTimeoutSeconds() {
        return ConfigBounds.atLeast(STREAM_WRITE_TIMEOUT_SECONDS, streamWriteTimeoutSeconds, 1);
    }

    /** 0 = no bound. */
    public int maxOpenStreams() {
        return ConfigBounds.atLeast(MAX_OPEN_STREAMS, maxOpenStreams, 0);
    }

    public long requestTimeoutSeconds() {
        return ConfigBounds.atLeast(REQUEST_TIMEOUT_SECONDS, requestTimeoutSeconds, 1);
    }

    public int grammarMaxChars() {
        return ConfigBounds.atLeast(GRAMMAR_MAX_CHARS, grammarMaxChars, 1);
    }

    public int grammarMaxRules() {
        return ConfigBounds.atLeast(GRAMMAR_MAX_RULES, grammarMaxRules, 1);
    }

    public int grammarMaxStackDepth() {
        return ConfigBounds.atLeast(GRAMMAR_MAX_STACK_DEPTH, grammarMaxStackDepth, 1);
    }
}
