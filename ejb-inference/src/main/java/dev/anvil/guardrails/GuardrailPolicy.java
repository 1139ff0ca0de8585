package dev.anvil.guardrails;

import dev.anvil.config.ConfigBounds;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The guardrail settings that apply to one tenant's requests: an action per {@link GuardrailCheck}, the input size
 * limit, extra prompt-injection patterns and the blocked-term list. Built from configuration keys under a prefix
 * ({@code anvil.guardrails.} for the server default, {@code anvil.guardrails.tenant.<name>.} for a tenant); a key a
 * tenant does not set falls back to the server default, which falls back to {@link #DEFAULT_ACTIONS}.
 *
 * @param tenant the tenant name, or null for the server default
 */
public record GuardrailPolicy(
        String tenant,
        Map<GuardrailCheck, GuardrailAction> actions,
        int maxInputChars,
        PromptInjectionDetector injection,
        BlockedTermMatcher blockedTerms) {

    /** {@code anvil.guardrails.<key>}: the server default of each key. */
    public static final String PREFIX = "anvil.guardrails.";
    /** {@code anvil.guardrails.tenant.<tenant>.<key>}: one tenant's value of a key. */
    public static final String TENANT_PREFIX = PREFIX + "tenant.";

    public static final String MAX_INPUT_CHARS = "max-input-chars";
    public static final String INJECTION_PATTERNS = "injection-patterns";
    public static final String BLOCKED_TERM_LIST = "blocked-term-list";
    public static final int DEFAULT_MAX_INPUT_CHARS = 100_000;

    /** What applies when nothing is configured: limits and JSON validation enforced, findings counted. */
    public static final Map<GuardrailCheck, GuardrailAction> DEFAULT_ACTIONS = Map.of(
            GuardrailCheck.INPUT_SIZE, GuardrailAction.BLOCK,
            GuardrailCheck.PROMPT_INJECTION, GuardrailAction.FLAG,
            GuardrailCheck.INPUT_PII, GuardrailAction.FLAG,
            GuardrailCheck.OUTPUT_PII, GuardrailAction.FLAG,
            GuardrailCheck.BLOCKED_TERMS, GuardrailAction.BLOCK,
            GuardrailCheck.JSON_OUTPUT, GuardrailAction.BLOCK);

    public GuardrailPolicy {
        actions = Map.copyOf(actions);
        ConfigBounds.atLeast("max-input-chars", maxInputChars, 1);
    }

    /**
     * Reads a policy from configuration.
     *
     * @param tenant the tenant, or null for the server default
     * @param config a key → value lookup (MicroProfile Config in the server, a map in tests)
     * @throws IllegalArgumentException naming the key whose value is wrong
     */
    public static GuardrailPolicy load(String tenant, Function<String, Optional<String>> config) {
        Function<String, Optional<String>> lookup = suffix -> {
            if (tenant != null) {
                Optional<String> own =
                        config.apply(TENANT_PREFIX + tenant + "." + suffix).filter(v -> !v.isBlank());
                if (own.isPresent()) return own;
            }
            return config.apply(PREFIX + suffix).filter(v -> !v.isBlank());
        };
        String where = tenant == null ? PREFIX : TENANT_PREFIX + tenant + ".";
        Map<GuardrailCheck, GuardrailAction> actions = new EnumMap<>(GuardrailCheck.class);
        for (GuardrailCheck check : GuardrailCheck.values()) {
            String key = where + check.configName();
            GuardrailAction action = lookup.apply(check.configName())
                    .map(v -> GuardrailAction.parse(v, key))
                    .orElse(DEFAULT_ACTIONS.get(check));
            if (!check.allows(action)) {
                throw new IllegalArgumentException(key + "=" + action.wireName() + ": " + check.wireName()
                        + " cannot be redacted; use off, flag or block");
            }
            actions.put(check, action);
        }
        int maxChars = lookup.apply(MAX_INPUT_CHARS)
                .map(v -> parsePositive(v, where + MAX_INPUT_CHARS))
                .orElse(DEFAULT_MAX_INPUT_CHARS);
        PromptInjectionDetector injection = PromptInjectionDetector.withExtraPatterns(
                lookup.apply(INJECTION_PATTERNS).map(GuardrailPolicy::list).orElse(List.of()),
                where + INJECTION_PATTERNS);
        BlockedTermMatcher terms = BlockedTermMatcher.of(
                lookup.apply(BLOCKED_TERM_LIST).map(GuardrailPolicy::list).orElse(List.of()));
        return new GuardrailPolicy(tenant, actions, maxChars, injection, terms);
    }

    /**
     * Every key of a policy (after {@link #PREFIX} or a tenant's prefix) with what applies when it is not set
     * ({@code null}: nothing, e.g. no extra patterns): the defaults, in the one place they are decided.
     */
    public static Map<String, String> keyDefaults() {
        Map<String, String> keys = new java.util.LinkedHashMap<>();
        for (GuardrailCheck check : GuardrailCheck.values())
            keys.put(check.configName(), DEFAULT_ACTIONS.get(check).wireName());
        keys.put(MAX_INPUT_CHARS, Integer.toString(DEFAULT_MAX_INPUT_CHARS));
        keys.put(INJECTION_PATTERNS, null);
        keys.put(BLOCKED_TERM_LIST, null);
        return keys;
    }

    public GuardrailAction action(GuardrailCheck check) {
        return actions.get(check);
    }

    /** Whether any output check inspects the generated text as it is produced (PII, blocked terms). */
    public boolean scansOutputText() {
        return action(GuardrailCheck.OUTPUT_PII) != GuardrailAction.OFF
                || (action(GuardrailCheck.BLOCKED_TERMS) != GuardrailAction.OFF && !blockedTerms.isEmpty());
    }

    private static int parsePositive(String value, String key) {
        try {
            int v = Integer.parseInt(value.trim());
            if (v >= 1) return v;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(key + "='" + value + "': must be a whole number of at least 1");
    }

    /** A comma-separated list; "\," keeps a comma inside an item (as MicroProfile Config lists do). */
    private static List<String> list(String value) {
        return Arrays.stream(value.split("(?<!\\\\),"))
                .map(s -> s.replace("\\,", ",").trim())
                .filter(s -> !s.isEmpty())
                .toList();
    }
}
