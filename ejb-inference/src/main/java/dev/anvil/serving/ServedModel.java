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
 * @param embedding     for an embedding model (an encoder: {@code POST /v1/embeddings} only), its shape; null for a
 *                      generation model ({@code /v1/completions}, {@code /v1/chat/completions})
 */
public record ServedModel(
        String name,
        String version,
        Tokenizer tokenizer,
        int contextLength,
        ChatTemplate chatTemplate,
        Instant createdAt,
        String owner,
        Embedding embedding) {

    /**
     * What an embedding model produces.
     *
     * @param dimensions the width of its embeddings
     * @param pooling    how token vectors become one ({@code MEAN}, {@code CLS}, {@code LAST}; {@code NONE} gives no
     *                   embedding per input, which the API refuses)
     */
    public record Embedding(int dimensions, String pooling) {}

    /** A generation model. */
    public ServedModel(
            String name,
            String version,
            Tokenizer tokenizer,
            int contextLength,
            ChatTemplate chatTemplate,
            Instant createdAt,
            String owner) {
        this(name, version, tokenizer, contextLength, chatTemplate, createdAt, owner, null);
    }

    /** Whether this is an embedding model (no generation). */
    public boolean embeds() {
        return embedding != null;
    }

    /** {@code name@version}: a reference that pins exactly this version. */
    public String ref() {
        return name + "@" + version;
    }
}
