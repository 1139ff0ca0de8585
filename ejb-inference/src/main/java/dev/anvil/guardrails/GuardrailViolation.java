package dev.anvil.guardrails;

import jakarta.ejb.ApplicationException;

/**
 * A request refused by a guardrail: the HTTP layer answers 400 with code {@code guardrail_violation}, the check's
 * name as {@code param}... unless the check is about the output, which never becomes an exception (the text is
 * withheld instead). The message says what was found, never the offending text itself.
 */
@ApplicationException(rollback = false)
public class GuardrailViolation extends RuntimeException {

    private final GuardrailCheck check;

    public GuardrailViolation(GuardrailCheck check, String message) {
        super(message);
        this.check = check;
    }

    public GuardrailCheck check() {
        return check;
    }
}
