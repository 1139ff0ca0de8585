package dev.anvil.experiments.domain;

import java.util.Arrays;
import java.util.Locale;

/** How an experiment splits traffic between its variants. */
public enum ExperimentStrategy {
    /** Fixed weighted split; every variant serves real responses. */
    AB,
    /** A candidate variant takes a growing share of traffic along the canary steps; the control takes the rest. */
    CANARY,
    /** The control serves every response; the other variants run on copies whose responses are discarded. */
    SHADOW,
    /** Weights follow Thompson sampling over the variants' success rates, with a floor per variant. */
    BANDIT;

    public static ExperimentStrategy parse(String text) {
        if (text == null || text.isBlank()) {
            throw new InvalidExperimentException(
                    "strategy", "strategy is required (one of " + Arrays.toString(values()) + ")");
        }
        try {
            return valueOf(text.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidExperimentException(
                    "strategy", "unknown strategy '" + text + "' (one of " + Arrays.toString(values()) + ")");
        }
    }
}
