package dev.anvil.guardrails;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Runs the guardrail checks of a {@link GuardrailPolicy} (see {@link GuardrailPolicies} for where policies come from).
 * Input: before the request is routed to a model; output: on each generated choice before it is returned. Every
 * finding is counted ({@link GuardrailMetrics}) and logged without the offending text.
 */
@ApplicationScoped
public class Guardrails {

    private static final Logger LOG = Logger.getLogger(Guardrails.class.getName());

    @Inject
    GuardrailMetrics metrics;

    /**
     * Checks the input texts of one request (prompts, or the contents of chat messages) in order: size, prompt
     * injection, PII.
     *
     * @param what how the texts are named in messages, e.g. {@code messages} or {@code prompt}
     * @return the texts to generate from (the same, or with PII redacted when the policy says so) and the findings
     * @throws GuardrailViolation when a blocking check finds something
     */
    public InputCheck checkInput(GuardrailPolicy policy, List<String> texts, String what) {
        Set<String> findings = new LinkedHashSet<>();
        List<String> out = checkInput(policy, texts, what, findings);
        return new InputCheck(out, findings);
    }

    /**
     * The outcome of the input checks.
     *
     * @param texts    what to generate from
     * @param findings what was found and done, e.g. {@code input_pii=redact} (empty when nothing was found)
     */
    public record InputCheck(List<String> texts, Set<String> findings) {}

    private List<String> checkInput(GuardrailPolicy policy, List<String> texts, String what, Set<String> findings) {
        long chars = 0;
        for (String t : texts) chars += t == null ? 0 : t.length();
        GuardrailAction size = policy.action(GuardrailCheck.INPUT_SIZE);
        if (size != GuardrailAction.OFF && chars > policy.maxInputChars()) {
            found(policy, GuardrailCheck.INPUT_SIZE, size);
            findings.add(GuardrailCheck.INPUT_SIZE.wireName() + "=" + size.wireName());
            if (size == GuardrailAction.BLOCK) {
                throw new GuardrailViolation(
                        GuardrailCheck.INPUT_SIZE,
                        "the " + what + " have " + chars + " characters; this server accepts at most "
                                + policy.maxInputChars() + " per request");
            }
        }
        GuardrailAction injection = policy.action(GuardrailCheck.PROMPT_INJECTION);
        if (injection != GuardrailAction.OFF) {
            for (int i = 0; i < texts.size(); i++) {
                PromptInjectionDetector.Rule rule = policy.injection().match(texts.get(i));
                if (rule == null) continue;
                found(policy, GuardrailCheck.PROMPT_INJECTION, injection);
                findings.add(GuardrailCheck.PROMPT_INJECTION.wireName() + "=" + injection.wireName());
                if (injection == GuardrailAction.BLOCK) {
                    throw new GuardrailViolation(
                            GuardrailCheck.PROMPT_INJECTION,
                            what + "[" + i + "] looks like a prompt injection (" + rule.name() + ") and was refused");
                }
                break;
            }
        }
        GuardrailAction pii = policy.action(GuardrailCheck.INPUT_PII);
        if (pii == GuardrailAction.OFF) return texts;
        List<String> out = new ArrayList<>(texts.size());
        boolean counted = false;
        for (int i = 0; i < texts.size(); i++) {
            String text = texts.get(i);
            List<TextSpan> spans = PiiDetector.find(text);
            if (spans.isEmpty()) {
                out.add(text);
                continue;
            }
            if (!counted) {
                found(policy, GuardrailCheck.INPUT_PII, pii);
                findings.add(GuardrailCheck.INPUT_PII.wireName() + "=" + pii.wireName());
                counted = true;
            }
            if (pii == GuardrailAction.BLOCK) {
                throw new GuardrailViolation(
                        GuardrailCheck.INPUT_PII,
                        what + "[" + i + "] contains personal data ("
                                + String.join(
                                        ", ",
                                        spans.stream()
                                                .map(TextSpan::kind)
                                                .distinct()
                                                .toList())
                                + "); remove it or ask for a policy that redacts it");
            }
            out.add(pii == GuardrailAction.REDACT ? Redaction.apply(text, spans) : text);
        }
        return List.copyOf(out);
    }

    /** A fresh output guard for one generated choice (findings counted in the metrics). */
    public OutputTextGuard outputGuard(GuardrailPolicy policy, JsonOutputRequirement json) {
        return new OutputTextGuard(policy, json, (check, action) -> found(policy, check, action));
    }

    private void found(GuardrailPolicy policy, GuardrailCheck check, GuardrailAction action) {
        metrics.finding(policy, check, action);
        LOG.info(() -> "guardrail " + check.wireName() + " found something (tenant "
                + (policy.tenant() == null ? "default" : policy.tenant()) + "): " + action.wireName());
    }
}
