package dev.anvil.guardrails;

import java.util.EnumSet;
import java.util.Set;

/**
 * The guardrail checks, with their configuration / metric / error names and the actions that make sense for each
 * (a size limit or an injection pattern cannot be "redacted" meaningfully, so those accept off, flag, block).
 */
public enum GuardrailCheck {
    /** Input longer than the policy's {@code max-input-chars}. */
    INPUT_SIZE(
            "input_size", "input-size", EnumSet.of(GuardrailAction.OFF, GuardrailAction.FLAG, GuardrailAction.BLOCK)),
    /** Input that matches a prompt-injection pattern. */
    PROMPT_INJECTION(
            "prompt_injection",
            "prompt-injection",
            EnumSet.of(GuardrailAction.OFF, GuardrailAction.FLAG, GuardrailAction.BLOCK)),
    /** Emails, phone numbers, payment card numbers in the input. */
    INPUT_PII("input_pii", "input-pii", EnumSet.allOf(GuardrailAction.class)),
    /** Emails, phone numbers, payment card numbers in the generated text. */
    OUTPUT_PII("output_pii", "output-pii", EnumSet.allOf(GuardrailAction.class)),
    /** Terms of the policy's blocked-term list in the generated text. */
    BLOCKED_TERMS("blocked_terms", "blocked-terms", EnumSet.allOf(GuardrailAction.class)),
    /** Generated text that is not the JSON the request asked for ({@code response_format}). */
    JSON_OUTPUT(
            "json_output", "json-output", EnumSet.of(GuardrailAction.OFF, GuardrailAction.FLAG, GuardrailAction.BLOCK));

    private final String wireName;
    private final String configName;
    private final Set<GuardrailAction> allowed;

    GuardrailCheck(String wireName, String configName, Set<GuardrailAction> allowed) {
        this.wireName = wireName;
        this.configName = configName;
        this.allowed = allowed;
    }

    /** The name in errors, headers and the {@code check} metric label, e.g. {@code input_pii}. */
    public String wireName() {
        return wireName;
    }

    /** The configuration key segment, e.g. {@code input-pii} in {@code anvil.guardrails.input-pii}. */
    public String configName() {
        return configName;
    }

    public boolean allows(GuardrailAction action) {
        return allowed.contains(action);
    }

    public boolean isOutput() {
        return this == OUTPUT_PII || this == BLOCKED_TERMS || this == JSON_OUTPUT;
    }
}
