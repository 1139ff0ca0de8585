package dev.anvil.experiments.domain;

import java.util.List;

/**
 * What the experiment controller observed of a RUNNING canary's candidate, for {@link Experiment#superviseCanary}.
 *
 * @param outcomes          the candidate's outcomes so far
 * @param guardrailBreaches the experiment's guardrails the candidate breached over enough data (the statistics
 *                          decide what enough is; empty: every guardrail held)
 * @param outcomesThisStep  the candidate's outcomes since its current step began ({@link Experiment#canaryStepSince()})
 */
public record CanaryObservation(long outcomes, List<String> guardrailBreaches, long outcomesThisStep) {

    public CanaryObservation {
        guardrailBreaches = List.copyOf(guardrailBreaches);
    }
}
