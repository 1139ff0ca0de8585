package dev.anvil.routing;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * The router's decision for one request, pure: which candidate answers and why.
 *
 * <ol>
 *   <li><b>tenant policy</b>: a tenant with a policy is served only by the candidates it names;</li>
 *   <li><b>needs</b>: the first (cheapest) remaining candidate whose limits the request meets (prompt tokens,
 *       {@code max_tokens}, complexity), else the last remaining one (the most capable);</li>
 *   <li><b>latency budget</b>: when the caller gave one and that candidate's estimated latency (time to first
 *       token + time per output token × {@code max_tokens}, {@link RouteLatencies}) exceeds it, the most capable
 *       cheaper candidate that fits it, else the fastest remaining one.</li>
 * </ol>
 *
 * The reason names the rule that decided: {@code cheapest} (the first candidate took it), {@code prompt_tokens},
 * {@code max_tokens} or {@code complexity} (the rule that turned the first skipped candidate down),
 * {@code tenant_policy} (the tenant's policy removed cheaper candidates), {@code latency_budget}.
 */
public final class RouteRules {

    /** What is known about the request when it is routed. */
    public record Signals(
            int promptTokens, Integer maxTokens, double complexity, Long latencyBudgetMs, String tenant) {}

    /**
     * @param model     the chosen candidate's model name
     * @param index     its position in the router's candidates
     * @param reason    the rule that decided (see {@link RouteRules})
     * @param escalateTo with a cascade, the model that answers again when the answer fails a check; null when the
     *                  chosen one is already the most capable allowed one, or there is no cascade
     */
    public record Decision(String model, int index, String reason, String escalateTo) {}

    /** Output tokens assumed for the latency estimate of a request that sets no {@code max_tokens}. */
    static final int DEFAULT_ESTIMATE_TOKENS = 256;

    private RouteRules() {}

    /**
     * @param latencyMs a candidate's estimated latency in milliseconds for the request's {@code max_tokens}
     *                  (NaN: not known, which fits any budget)
     */
    public static Decision choose(RouterSpec spec, Signals s, ToDoubleFunction<RouterSpec.Candidate> latencyMs) {
        List<Integer> allowed = new ArrayList<>();
        RouterSpec.TenantPolicy policy = s.tenant() == null
                ? null
                : spec.tenants().stream()
                        .filter(p -> p.tenant().equals(s.tenant()))
                        .findFirst()
                        .orElse(null);
        for (int i = 0; i < spec.candidates().size(); i++) {
            if (policy == null
                    || policy.models().contains(spec.candidates().get(i).model())) allowed.add(i);
        }
        if (allowed.isEmpty()) { // a policy naming no current candidate (validated away; defensive): all of them
            for (int i = 0; i < spec.candidates().size(); i++) allowed.add(i);
        }
        String reason = allowed.getFirst() > 0 ? "tenant_policy" : null;
        int chosen = allowed.getLast();
        for (int i : allowed) {
            String refusal = refusal(spec.candidates().get(i), s);
            if (refusal == null) {
                chosen = i;
                break;
            }
            if (reason == null) reason = refusal;
        }
        if (reason == null) reason = "cheapest";
        if (s.latencyBudgetMs() != null) {
            double estimate = latencyMs.applyAsDouble(spec.candidates().get(chosen));
            if (!Double.isNaN(estimate) && estimate > s.latencyBudgetMs()) {
                int fits = -1;
                int fastest = chosen;
                double fastestMs = estimate;
                for (int i : allowed) {
                    double ms = latencyMs.applyAsDouble(spec.candidates().get(i));
                    if (i < chosen && (Double.isNaN(ms) || ms <= s.latencyBudgetMs())) fits = i;
                    if (!Double.isNaN(ms) && ms < fastestMs) {
                        fastest = i;
                        fastestMs = ms;
                    }
                }
                int next = fits >= 0 ? fits : fastest;
                if (next != chosen) {
                    chosen = next;
                    reason = "latency_budget";
                }
            }
        }
        int top = allowed.getLast();
        String escalateTo =
                spec.cascades() && chosen < top ? spec.candidates().get(top).model() : null;
        return new Decision(spec.candidates().get(chosen).model(), chosen, reason, escalateTo);
    }

    /** Why {@code c} may not take the request (the first limit it breaks), or null when it may. */
    static String refusal(RouterSpec.Candidate c, Signals s) {
        if (c.maxPromptTokens() != null && s.promptTokens() > c.maxPromptTokens()) return "prompt_tokens";
        if (c.maxMaxTokens() != null && (s.maxTokens() == null || s.maxTokens() > c.maxMaxTokens()))
            return "max_tokens";
        if (c.maxComplexity() != null && s.complexity() > c.maxComplexity()) return "complexity";
        return null;
    }

    /** Estimated latency: time to first token plus time per output token for the request's output tokens. */
    public static double estimateMs(double ttftMs, double tpotMs, Integer maxTokens) {
        if (Double.isNaN(ttftMs) || Double.isNaN(tpotMs)) return Double.NaN;
        return ttftMs + tpotMs * (maxTokens == null ? DEFAULT_ESTIMATE_TOKENS : maxTokens);
    }
}
