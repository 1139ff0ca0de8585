package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The model file the ITs serve (the repository's stories260K) and its registration under a name and versions of a
 * test's own, through the registry API.
 */
public final class TestModel {

    private TestModel() {}

    /** The stories260K file, asserted present (the ITs cannot run without it). */
    public static Path file() {
        Path file = Path.of("../models/stories260K.gguf").toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(file), "test model file missing: " + file);
        return file;
    }

    /** The registry's request body registering the test model file as {@code version}. */
    public static String versionBody(String version) {
        return Json.createObjectBuilder()
                .add("version", version)
                .add("path", file().toString())
                .build()
                .toString();
    }

    /** Posts the registration of {@code name@version} and returns the registry's answer. */
    public static HttpResult post(AnvilServer server, String name, String version) {
        return server.post("/api/registry/models/" + name + "/versions", versionBody(version));
    }

    /** Registers each of {@code versions} of a new {@code name}: each must be created (201). */
    public static void register(AnvilServer server, String name, String... versions) {
        for (String version : versions) {
            HttpResult r = post(server, name, version);
            assertEquals(201, r.status(), r::toString);
        }
    }
}
