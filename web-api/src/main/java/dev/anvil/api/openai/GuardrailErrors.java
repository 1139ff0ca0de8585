package dev.anvil.api.openai;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.guardrails.GuardrailViolation;

/**
 * How guardrail refusals look on the wire: OpenAI-style errors with code {@value #CODE} and the check's name as
 * {@code param} ({@code input_size}, {@code prompt_injection}, {@code input_pii}; in a stream also
 * {@code output_pii}, {@code blocked_terms}, {@code json_output}).
 */
final class GuardrailErrors {

    static final String TYPE = ApiErrors.TYPE_INVALID_REQUEST;
    static final String CODE = "guardrail_violation";
    /** Response header listing what the guardrails found and did, e.g. {@code input_pii=redact, output_pii=flag}. */
    static final String FINDINGS_HEADER = "X-Anvil-Guardrails";
    /** Response header set when a fallback answered: {@code <target>; from=<name@version>; reason=<reason>}. */
    static final String FALLBACK_HEADER = "X-Anvil-Fallback";

    private GuardrailErrors() {}

    static ApiException exception(GuardrailViolation v) {
        return new ApiException(
                400,
                TYPE,
                "guardrail " + v.check().wireName() + ": " + v.getMessage(),
                v.check().wireName(),
                CODE);
    }
}
