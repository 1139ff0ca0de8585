package dev.anvil.experiments.domain;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/** Canary steps: the candidate's traffic share in percent at each stage, e.g. "1,5,25,50,100". */
public final class CanarySteps {

    private CanarySteps() {}

    /** Parses and checks: at least one step, each in 1..100, strictly increasing, the last one 100. */
    public static List<Integer> parse(String text) {
        if (text == null || text.isBlank()) {
            throw new InvalidExperimentException(
                    "canarySteps", "a CANARY experiment needs canarySteps, e.g. \"1,5,25,50,100\"");
        }
        List<Integer> steps = new ArrayList<>();
        for (String part : text.split(",")) {
            int step;
            try {
                step = Integer.parseInt(part.strip());
            } catch (NumberFormatException e) {
                throw new InvalidExperimentException(
                        "canarySteps", "canarySteps '" + text + "': '" + part.strip() + "' is not a whole number");
            }
            if (step < 1 || step > 100) {
                throw new InvalidExperimentException(
                        "canarySteps", "canarySteps '" + text + "': every step must be between 1 and 100 percent");
            }
            if (!steps.isEmpty() && step <= steps.get(steps.size() - 1)) {
                throw new InvalidExperimentException(
                        "canarySteps", "canarySteps '" + text + "' must be strictly increasing");
            }
            steps.add(step);
        }
        if (steps.get(steps.size() - 1) != 100) {
            throw new InvalidExperimentException(
                    "canarySteps", "canarySteps '" + text + "' must end at 100 (full rollout)");
        }
        return List.copyOf(steps);
    }

    public static String format(List<Integer> steps) {
        return steps.stream().map(String::valueOf).collect(Collectors.joining(","));
    }
}
