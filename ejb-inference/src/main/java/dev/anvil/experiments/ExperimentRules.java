package dev.anvil.experiments;

import dev.anvil.experiments.domain.IllegalExperimentTransitionException;
import dev.anvil.experiments.domain.InvalidExperimentException;
import java.util.Locale;
import java.util.function.Supplier;

/** Turns the domain's rule violations into experiment errors with the kind the API reports. */
final class ExperimentRules {

    private ExperimentRules() {}

    static <T> T check(Supplier<T> work) {
        try {
            return work.get();
        } catch (InvalidExperimentException e) {
            throw ExperimentException.badRequest(e.getMessage(), e.field(), "invalid_" + snake(e.field()));
        } catch (IllegalExperimentTransitionException e) {
            throw ExperimentException.conflict(e.getMessage(), "status", "illegal_transition");
        }
    }

    static String snake(String field) {
        return field.replace('.', '_').replaceAll("([a-z])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
    }
}
