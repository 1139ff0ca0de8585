package dev.anvil.registry;

import dev.anvil.registry.domain.IllegalStageTransitionException;
import dev.anvil.registry.domain.InvalidRegistryFieldException;
import java.util.function.Supplier;

/** Turns the domain's rule violations into registry errors with the kind the API reports. */
final class RegistryRules {

    private RegistryRules() {}

    static <T> T check(Supplier<T> work) {
        try {
            return work.get();
        } catch (InvalidRegistryFieldException e) {
            throw RegistryException.badRequest(e.getMessage(), e.field(), "invalid_" + snake(e.field()));
        } catch (IllegalStageTransitionException e) {
            throw RegistryException.conflict(e.getMessage(), "stage", "illegal_transition");
        }
    }

    private static String snake(String field) {
        return field.replaceAll("([a-z])([A-Z])", "$1_$2").toLowerCase(java.util.Locale.ROOT);
    }
}
