package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerMetrics;
import dev.anvil.it.TestModel;

/**
 * The model versions GuardrailsIT and ResilienceIT use (the repository's stories260K file under names of their own),
 * with the faults and fallbacks AnvilServer configures for them, and /metrics reading.
 */
final class GuardedModels {

    private GuardedModels() {}

    /** Registers {@code name@version} unless it already is (both ITs and reruns in one server share them). */
    static void register(AnvilServer server, String name, String version) {
        HttpResult r = TestModel.post(server, name, version);
        assertTrue(r.status() == 201 || r.status() == 409, r::toString);
    }

    /** The value of the first application metric sample named {@code name} whose labels contain all {@code labels}. */
    static double metric(AnvilServer server, String name, String... labels) {
        return ServerMetrics.firstOrZero(server, name, labels);
    }
}
