package dev.anvil.api.registry;

import java.util.List;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** Body of {@code POST /api/registry/models/{name}/versions}. */
@Schema(name = "RegisterModelVersionRequest", description = "Registers a model file that is already on the server")
public record RegisterVersionRequest(
        @Schema(required = true, description = "Semantic version (semver.org 2.0.0)", examples = "1.0.0")
        String version,

        @Schema(
                required = true,
                description = "Absolute path of the model file on the server",
                examples = "/models/stories260K.gguf")
        String path,

        @Schema(
                type = SchemaType.STRING,
                enumeration = {"GGUF", "LLAMA2C"},
                description = "File format; detected when omitted (GGUF only: llama2.c checkpoints must say LLAMA2C)")
        String format,

        @Schema(
                description = "Expected SHA-256 (hex); the registration fails with 400 if the file differs",
                pattern = "^[0-9a-fA-F]{64}$")
        String sha256,

        @Schema(description = "Description of this version") String description,

        @Schema(description = "Model description, used only when this registration creates the model")
        String modelDescription,

        @Schema(description = "Model owner, used only when this registration creates the model (default: the actor)")
        String owner,

        @Schema(description = "Model tags, used only when this registration creates the model")
        List<String> tags) {}
