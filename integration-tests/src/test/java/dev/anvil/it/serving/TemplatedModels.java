package dev.anvil.it.serving;

import dev.anvil.engine.GgufFile;
import dev.anvil.engine.GgufWriter;
import dev.anvil.engine.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Model files of the chat template ITs: the repository's stories260K with another {@code tokenizer.chat_template},
 * written with the engine's GgufWriter.copy (every other metadata key and every tensor copied), and its tokenizer, to
 * compute what the server must have tokenized.
 */
final class TemplatedModels {

    static final Path STORIES =
            Path.of("../models/stories260K.gguf").toAbsolutePath().normalize();

    private TemplatedModels() {}

    /** Writes {@code stories260K} with {@code template} as {@code target/chat-templates/<name>.gguf}. */
    static Path write(String name, String template) {
        try {
            Path dir =
                    Files.createDirectories(Path.of("target", "chat-templates").toAbsolutePath());
            Path target = dir.resolve(name + ".gguf");
            try (GgufFile in = GgufFile.open(STORIES)) {
                return GgufWriter.copy(in, target, Map.of("tokenizer.chat_template", template));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** How many tokens the server's chat path makes of {@code rendered}: specials recognised, BOS added (stories260K). */
    static int promptTokens(String rendered) {
        try (GgufFile f = GgufFile.open(STORIES)) {
            return Tokenizer.fromGguf(f).encodeWithSpecials(rendered, true).length;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
