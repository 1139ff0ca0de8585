package dev.anvil.registry;

import java.util.List;

/**
 * A request to register a model version from a file on the server.
 *
 * @param path             absolute path of the model file on the server
 * @param format           GGUF or LLAMA2C; null to detect (GGUF only)
 * @param sha256           the checksum the client expects the file to have, or null
 * @param description      description of this version, or null
 * @param modelDescription used only when this registration creates the model
 * @param owner            used only when this registration creates the model (default: the actor)
 * @param tags             used only when this registration creates the model
 */
public record RegisterVersionCommand(
        String model,
        String version,
        String path,
        String format,
        String sha256,
        String description,
        String modelDescription,
        String owner,
        List<String> tags) {}
