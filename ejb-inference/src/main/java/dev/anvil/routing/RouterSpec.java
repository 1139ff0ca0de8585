package dev.anvil.routing;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A cost-aware router's definition, as an operator writes it ({@code PUT /api/routers/{name}}) and as it is stored
 * (JSON, {@code routing_router.definition}). A request naming the router is answered by the first (cheapest)
 * candidate whose limits it meets, among those its tenant may use and its latency budget allows ({@link RouteRules});
 * with a cascade, a cheaper answer that fails a check is answered again by the largest candidate
 * ({@link CascadeCheck}).
 *
 * @param candidates cheapest first (the operator's order; the gateway's prices are what the costs and savings use);
 *                   the last one is the most capable and takes what no cheaper one may
 * @param tenants    tenant policies: a listed tenant is served only by the candidates it names (one: forced to it)
 * @param cascade    the cascade, or null for none
 */
public record RouterSpec(List<Candidate> candidates, List<TenantPolicy> tenants, Cascade cascade) {

    static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /**
     * A model the router may send a request to, with the limits of what it is good for (null: no limit). The
     * latency priors are what its time to first token and time per output token are taken to be until the router
     * observed enough of its own requests to it ({@link RouteLatencies}).
     *
     * @param model           a registered model name (never {@code name@version}, never a router)
     * @param maxPromptTokens the longest prompt it takes, in its own tokens
     * @param maxMaxTokens    the largest {@code max_tokens} it takes (a request without one counts as unbounded)
     * @param maxComplexity   the highest {@link Complexity} score it takes, in [0, 1]
     */
    public record Candidate(
            String model,
            Integer maxPromptTokens,
            Integer maxMaxTokens,
            Double maxComplexity,
            Integer expectedTtftMs,
            Integer expectedTpotMs) {}

    /**
     * The bounds a definition must keep, from configuration ({@link RoutingConfig}).
     *
     * @param maxCandidates     most candidates
     * @param maxTenantPolicies most tenant policies
     */
    public record Limits(int maxCandidates, int maxTenantPolicies) {
        /** The defaults of {@code anvil.routing.max-candidates} and {@code anvil.routing.max-tenant-policies}. */
        public static final Limits DEFAULT = new Limits(8, 256);
    }

    /** The candidates a tenant's requests may go to (a subset of the router's; one name forces it). */
    public record TenantPolicy(String tenant, List<String> models) {}

    /**
     * When a cheaper candidate's answer is answered again by the largest allowed one.
     *
     * @param minMeanLogprob escalate when a choice's mean token log-probability is below this (null: not checked)
     * @param onGuardrail    escalate when the output guardrails would withhold a choice
     * @param onJson         escalate when the request asked for JSON ({@code response_format}) and a choice is not
     */
    public record Cascade(boolean enabled, Double minMeanLogprob, Boolean onGuardrail, Boolean onJson) {
        public boolean checksGuardrail() {
            return onGuardrail == null || onGuardrail;
        }

        public boolean checksJson() {
            return onJson == null || onJson;
        }
    }

    public RouterSpec {
        candidates = candidates == null ? List.of() : List.copyOf(candidates);
        tenants = tenants == null ? List.of() : List.copyOf(tenants);
    }

    public boolean cascades() {
        return cascade != null && cascade.enabled();
    }

    /** The most capable candidate: the baseline that savings are measured against. */
    public String largest() {
        return candidates.getLast().model();
    }

    public List<String> models() {
        return candidates.stream().map(Candidate::model).toList();
    }

    /**
     * What is wrong with this definition of router {@code name}, as actionable sentences (empty when it is valid).
     * Checked here: names, bounds, duplicates, the router naming itself; the registry's part (every candidate a
     * registered model, none a router) is the service's, {@link RouterAdmin}.
     */
    public List<String> problems(String name, Limits limits) {
        List<String> out = new ArrayList<>();
        if (name == null || !NAME.matcher(name).matches()) {
            out.add("the router name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        if (candidates.isEmpty()) {
            out.add("'candidates' must list at least one model, cheapest first");
        }
        if (candidates.size() > limits.maxCandidates()) {
            out.add("'candidates' lists at most " + limits.maxCandidates() + " models (anvil.routing.max-candidates)");
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < candidates.size(); i++) {
            Candidate c = candidates.get(i);
            String at = "candidates[" + i + "]";
            if (c == null || c.model() == null || !NAME.matcher(c.model()).matches()) {
                out.add(at + ".model must be a registered model name (no '@version')");
                continue;
            }
            if (c.model().equals(name)) {
                out.add(at + " names the router itself ('" + name + "'): a router routes to models, never to itself");
            }
            if (!seen.add(c.model())) out.add(at + " repeats model '" + c.model() + "'");
            positive(out, at + ".maxPromptTokens", c.maxPromptTokens());
            positive(out, at + ".maxMaxTokens", c.maxMaxTokens());
            nonNegative(out, at + ".expectedTtftMs", c.expectedTtftMs());
            nonNegative(out, at + ".expectedTpotMs", c.expectedTpotMs());
            if (c.maxComplexity() != null && !(c.maxComplexity() >= 0 && c.maxComplexity() <= 1)) {
                out.add(at + ".maxComplexity must be in [0, 1]");
            }
        }
        if (tenants.size() > limits.maxTenantPolicies()) {
            out.add("'tenants' lists at most " + limits.maxTenantPolicies()
                    + " policies (anvil.routing.max-tenant-policies)");
        }
        Set<String> policyTenants = new HashSet<>();
        for (int i = 0; i < tenants.size() && i < limits.maxTenantPolicies(); i++) {
            TenantPolicy p = tenants.get(i);
            String at = "tenants[" + i + "]";
            if (p == null || p.tenant() == null || !NAME.matcher(p.tenant()).matches()) {
                out.add(at + ".tenant must be a tenant name");
                continue;
            }
            if (!policyTenants.add(p.tenant())) out.add(at + " repeats tenant '" + p.tenant() + "'");
            if (p.models() == null || p.models().isEmpty()) {
                out.add(at + ".models must name at least one of the candidates");
            } else {
                for (String m : p.models()) {
                    if (!seen.contains(m)) {
                        out.add(at + ".models names '" + m + "', which is not a candidate of this router");
                    }
                }
            }
        }
        if (cascade != null && cascade.minMeanLogprob() != null && !(cascade.minMeanLogprob() <= 0)) {
            out.add("cascade.minMeanLogprob must be a log-probability (at most 0)");
        }
        if (cascades() && candidates.size() < 2) {
            out.add("a cascade needs at least two candidates (it escalates to the last one)");
        }
        return out;
    }

    private static void positive(List<String> out, String field, Integer value) {
        if (value != null && value < 1) out.add(field + " must be at least 1");
    }

    private static void nonNegative(List<String> out, String field, Integer value) {
        if (value != null && value < 0) out.add(field + " must be at least 0");
    }
}
