package dev.anvil.api.openai;

import dev.anvil.guardrails.GuardrailPolicy;
import dev.anvil.guardrails.JsonOutputRequirement;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The guardrails of one API request, decided at the input stage and applied again to the output.
 *
 * @param policy        the tenant's policy (the server default without a tenant)
 * @param inputFindings what the input checks found and did, e.g. {@code input_pii=redact}, in the order found
 * @param jsonOutput    the JSON the request asked for ({@code response_format}), or null
 */
record RequestGuardrails(GuardrailPolicy policy, Set<String> inputFindings, JsonOutputRequirement jsonOutput) {

    RequestGuardrails {
        inputFindings = Collections.unmodifiableSet(new LinkedHashSet<>(inputFindings));
    }
}
