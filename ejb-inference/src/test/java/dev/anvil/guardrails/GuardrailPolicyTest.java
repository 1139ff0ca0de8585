package dev.anvil.guardrails;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class GuardrailPolicyTest {

    private static final Map<String, String> CONFIG = Map.of(
            "anvil.guardrails.input-pii", "redact",
            "anvil.guardrails.max-input-chars", "500",
            "anvil.guardrails.tenant.acme.input-pii", "block",
            "anvil.guardrails.tenant.acme.blocked-term-list", "alpha, beta\\,gamma",
            "anvil.guardrails.tenant.acme.output-pii", "off");

    private static GuardrailPolicy load(String tenant, Map<String, String> config) {
        return GuardrailPolicy.load(tenant, k -> Optional.ofNullable(config.get(k)));
    }

    @Test
    void defaultsApplyWhenNothingIsConfigured() {
        GuardrailPolicy p = load(null, Map.of());
        assertNull(p.tenant());
        assertEquals(GuardrailPolicy.DEFAULT_ACTIONS, p.actions());
        assertEquals(GuardrailPolicy.DEFAULT_MAX_INPUT_CHARS, p.maxInputChars());
    }

    @Test
    void tenantKeysOverrideTheServerDefaultKeyByKey() {
        GuardrailPolicy server = load(null, CONFIG);
        GuardrailPolicy acme = load("acme", CONFIG);
        GuardrailPolicy other = load("other", CONFIG);
        assertEquals(GuardrailAction.REDACT, server.action(GuardrailCheck.INPUT_PII));
        assertEquals(GuardrailAction.BLOCK, acme.action(GuardrailCheck.INPUT_PII));
        assertEquals(GuardrailAction.OFF, acme.action(GuardrailCheck.OUTPUT_PII));
        assertEquals(500, acme.maxInputChars(), "not set for the tenant: the server default");
        assertEquals(GuardrailAction.REDACT, other.action(GuardrailCheck.INPUT_PII));
        assertEquals(2, acme.blockedTerms().find("alpha and beta,gamma").size());
        assertTrue(server.blockedTerms().isEmpty());
    }

    @Test
    void badValuesNameTheirKey() {
        IllegalArgumentException action = assertThrows(
                IllegalArgumentException.class,
                () -> load("t", Map.of("anvil.guardrails.tenant.t.output-pii", "scrub")));
        assertEquals(
                "anvil.guardrails.tenant.t.output-pii='scrub': the action must be one of off, flag, redact, block",
                action.getMessage());
        IllegalArgumentException redactSize = assertThrows(
                IllegalArgumentException.class, () -> load(null, Map.of("anvil.guardrails.input-size", "redact")));
        assertTrue(redactSize.getMessage().startsWith("anvil.guardrails.input-size=redact"));
        IllegalArgumentException size = assertThrows(
                IllegalArgumentException.class, () -> load(null, Map.of("anvil.guardrails.max-input-chars", "0")));
        assertTrue(size.getMessage().startsWith("anvil.guardrails.max-input-chars='0'"));
    }
}
