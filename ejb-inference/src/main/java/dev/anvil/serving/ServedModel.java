package dev.anvil.serving;

import dev.anvil.engine.Tokenizer;
import dev.anvil.serving.chat.ChatTemplate;
import java.time.Instant;

/**
 * A model version that is loaded and serving requests.
 *
 * @param name          the registry model name (what clients pass as {@code model})
 * @param version       the semantic version being served
 * @param tokenizer     the model's tokenizer (thread-safe); the API layer tokenizes prompts with it
 * @param contextLength the model's context length in tokens (prompt + generated tokens must fit)
 * @param chatTemplate  the chat template: the GGUF {@code tokenizer.chat_template} (a Jinja template, verified when the
 *                      version was loaded) or the fallback transcript when the file has none, with the render limits
 * @param createdAt     when the version was registered
 * @param owner         the registry model's owner (OpenAI's {@code owned_by}), never null
 */
public record ServedModel(
        String name,
        String version,
        Tokenizer tokenizer,
        int contextLength,
        ChatTemplate chatTemplate,
        Instant createdAt,
        String owner) {

    /** {@code name@version}: a reference that pins exactly this version. */
    public String ref() {
        return name + "@" + version;
    }
}
