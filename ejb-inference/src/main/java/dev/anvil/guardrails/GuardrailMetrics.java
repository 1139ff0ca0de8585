package dev.anvil.guardrails;

import dev.anvil.metrics.MetricMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;
import org.eclipse.microprofile.metrics.Tag;

/**
 * {@code anvil_guardrail_findings_total{check, action, tenant}}: each time a check found something and what was done
 * about it (flag, redact, block). {@code tenant} is {@code default} for the server policy.
 */
@ApplicationScoped
public class GuardrailMetrics {

    static final String FINDINGS = "anvil.guardrail.findings";
    private static final Metadata FINDINGS_MD =
            MetricMetadata.of(FINDINGS, "Guardrail findings by check and the action taken", MetricUnits.NONE);

    @Inject
    MetricRegistry registry;

    public void finding(GuardrailPolicy policy, GuardrailCheck check, GuardrailAction action) {
        registry.counter(
                        FINDINGS_MD,
                        new Tag("check", check.wireName()),
                        new Tag("action", action.wireName()),
                        new Tag("tenant", policy.tenant() == null ? "default" : policy.tenant()))
                .inc();
    }
}
