package dev.anvil.guardrails;

import java.util.Locale;

/** What a guardrail check does when it finds something. */
public enum GuardrailAction {
    /** The check does not run. */
    OFF,
    /** The finding is counted and logged; the text passes unchanged. */
    FLAG,
    /** The offending spans are replaced (e.g. {@code [EMAIL]}); the request goes on with the safe text. */
    REDACT,
    /** Input: the request is refused (400 {@code guardrail_violation}); output: the text is withheld. */
    BLOCK;

    /** The lower-case name used in configuration and metrics. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * @throws IllegalArgumentException naming the key and the accepted values
     */
    public static GuardrailAction parse(String value, String key) {
        if (value == null) throw new IllegalArgumentException(key + " is missing");
        try {
            return valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    key + "='" + value + "': the action must be one of off, flag, redact, block");
        }
    }
}
