package dev.anvil.it.serving;

import dev.anvil.engine.GgufFile;
import dev.anvil.engine.GgufWriter;
import dev.anvil.engine.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Model files of the chat template ITs: the repository's stories260K with another {@code tokenizer.chat_template},
 * written with the engine's GgufWriter (every other metadata key and every tensor copied), and its tokenizer, to
 * compute what the server must have tokenized.
 */
final class TemplatedModels {

    static final Path STORIES = Path.of("../models/stories260K.gguf").toAbsolutePath().normalize();

    private TemplatedModels() {
    }

    /** Writes {@code stories260K} with {@code template} as {@code target/chat-templates/<name>.gguf}. */
    static Path write(String name, String template) {
        try {
            Path dir = Files.createDirectories(Path.of("target", "chat-templates").toAbsolutePath());
            Path target = dir.resolve(name + ".gguf");
            try (GgufFile in = GgufFile.open(STORIES); GgufWriter out = new GgufWriter(target)) {
                for (Map.Entry<String, Object> e : in.metadata().entrySet()) {
                    String k = e.getKey();
                    if (k.equals("tokenizer.chat_template")) continue;
                    switch (e.getValue()) {
                        case String s -> out.putString(k, s);
                        case Integer i -> out.putInt32(k, i);
                        case Long l -> out.putInt64(k, l);
                        case Float f -> out.putFloat32(k, f);
                        case Double d -> out.putFloat64(k, d);
                        case Boolean b -> out.putBool(k, b);
                        case String[] a -> out.putStringArray(k, a);
                        case int[] a -> out.putInt32Array(k, a);
                        case float[] a -> out.putFloat32Array(k, a);
                        default -> throw new IllegalArgumentException("cannot copy metadata " + k);
                    }
                }
                out.putString("tokenizer.chat_template", template);
                for (GgufFile.Tensor t : in.tensors().values()) out.addTensor(t.name(), t.type(), t.shape());
                for (GgufFile.Tensor t : in.tensors().values()) {
                    out.beginTensor(t.name());
                    byte[] bytes = t.data().toArray(ValueLayout.JAVA_BYTE);
                    out.write(bytes, 0, bytes.length);
                }
            }
            return target;
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
