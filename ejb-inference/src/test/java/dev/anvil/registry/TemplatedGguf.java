package dev.anvil.registry;

import dev.anvil.engine.GgufFile;
import dev.anvil.engine.GgufWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** A copy of a GGUF model (metadata and tensors) with another {@code tokenizer.chat_template}. */
final class TemplatedGguf {

    private TemplatedGguf() {}

    static Path copy(Path source, Path target, String chatTemplate) throws IOException {
        try (GgufFile in = GgufFile.open(source)) {
            return GgufWriter.copy(in, target, Map.of("tokenizer.chat_template", chatTemplate));
        }
    }
}
