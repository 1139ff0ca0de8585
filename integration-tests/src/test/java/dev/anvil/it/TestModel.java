package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

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

    /** Moves {@code name@version} to {@code stage} through the registry API: the move must succeed (200). */
    public static void moveStage(AnvilServer server, String name, String version, String stage, String reason) {
        HttpResult r = server.request(
                "POST",
                "/api/registry/models/" + name + "/versions/" + version + "/stage",
                Json.createObjectBuilder()
                        .add("stage", stage)
                        .add("reason", reason)
                        .build()
                        .toString(),
                Map.of("Content-Type", "application/json"));
        assertEquals(200, r.status(), r::toString);
    }

    /** A greedy {@code /v1/completions} body for {@code model} (a name, or {@code name@version}). */
    public static String greedyCompletion(String model, String prompt, int maxTokens) {
        return Json.createObjectBuilder()
                .add("model", model)
                .add("prompt", prompt)
                .add("max_tokens", maxTokens)
                .add("temperature", 0)
                .build()
                .toString();
    }
}
