package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.HttpResult;
import jakarta.json.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The model versions GuardrailsIT and ResilienceIT use (the repository's stories260K file under names of their own),
 * with the faults and fallbacks AnvilServer configures for them, and /metrics reading.
 */
final class GuardedModels {

    private GuardedModels() {}

    /** Registers {@code name@version} unless it already is (both ITs and reruns in one server share them). */
    static void register(AnvilServer server, String name, String version) {
        Path file = Path.of("../models/stories260K.gguf").toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(file), "test model file missing: " + file);
        HttpResult r = server.post(
                "/api/registry/models/" + name + "/versions",
                Json.createObjectBuilder()
                        .add("version", version)
                        .add("path", file.toString())
                        .build()
                        .toString());
        assertTrue(r.status() == 201 || r.status() == 409, r::toString);
    }

    /** The value of the first application metric sample named {@code name} whose labels contain all {@code labels}. */
    static double metric(AnvilServer server, String name, String... labels) {
        String text = server.get("/metrics?scope=application").body();
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)} ([0-9.E+-]+)$")
                .matcher(text);
        while (m.find()) {
            boolean all = true;
            for (String l : labels) all &= m.group(1).contains(l);
            if (all) return Double.parseDouble(m.group(2));
        }
        return 0.0;
    }
}
