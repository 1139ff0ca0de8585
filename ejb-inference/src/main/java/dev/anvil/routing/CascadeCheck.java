package dev.anvil.routing;

import java.math.BigDecimal;
import java.util.List;
import java.util.function.Predicate;

/**
 * Whether a cascade's first answer stands or is answered again by the larger model, pure. Checks, in order, per
 * choice: its mean token log-probability below {@link RouterSpec.Cascade#minMeanLogprob()} ({@code logprob}); the
 * output guardrails withholding it ({@code guardrail}); not being the JSON the request asked for ({@code json}).
 * A choice whose mean log-probability is unknown (nothing generated) fails the log-probability check only when
 * it has no text: an empty answer is no answer.
 */
public final class CascadeCheck {

    /** One choice of the first answer: its text and its mean token log-probability (NaN: unknown). */
    public record Answer(String text, double meanLogprob) {}

    private CascadeCheck() {}

    /**
     * The first failed check ({@code logprob}, {@code guardrail} or {@code json}), or null when the answer stands.
     *
     * @param withheld whether the output guardrails withhold a text
     * @param notJson  whether a text is not the JSON the request asked for (never true when it asked for none)
     */
    public static String failure(
            RouterSpec.Cascade cascade, List<Answer> answers, Predicate<String> withheld, Predicate<String> notJson) {
        for (Answer a : answers) {
            if (cascade.minMeanLogprob() != null) {
                boolean unknown = Double.isNaN(a.meanLogprob());
                if ((unknown && a.text().isEmpty()) || (!unknown && a.meanLogprob() < cascade.minMeanLogprob())) {
                    return "logprob";
                }
            }
        }
        if (cascade.checksGuardrail()) {
            for (Answer a : answers) if (withheld.test(a.text())) return "guardrail";
        }
        if (cascade.checksJson()) {
            for (Answer a : answers) if (notJson.test(a.text())) return "json";
        }
        return null;
    }

    /** The mean of per-token log-probabilities, NaN for none. */
    public static double mean(List<Double> logprobs) {
        if (logprobs == null || logprobs.isEmpty()) return Double.NaN;
        double sum = 0;
        for (double l : logprobs) sum += l;
        return sum / logprobs.size();
    }

    /**
     * What routing saved on a set of usage rows: their baseline (the tokens priced at the router's largest
     * candidate; an escalation's row carries 0, its cost being all extra) minus what they cost. Negative when
     * escalations cost more than the cheaper answers saved.
     */
    public static BigDecimal savings(BigDecimal baseline, BigDecimal cost) {
        return (baseline == null ? BigDecimal.ZERO : baseline).subtract(cost == null ? BigDecimal.ZERO : cost);
    }
}
