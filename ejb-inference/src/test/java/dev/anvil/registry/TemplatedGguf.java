package dev.anvil.registry;

import dev.anvil.engine.GgufFile;
import dev.anvil.engine.GgufWriter;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Map;

/** A copy of a GGUF model (metadata and tensors) with another {@code tokenizer.chat_template}, written with GgufWriter. */
final class TemplatedGguf {

    private TemplatedGguf() {
    }

    static Path copy(Path source, Path target, String chatTemplate) throws IOException {
        try (GgufFile in = GgufFile.open(source); GgufWriter out = new GgufWriter(target)) {
            for (Map.Entry<String, Object> e : in.metadata().entrySet()) {
                if (e.getKey().equals("tokenizer.chat_template")) continue;
                String k = e.getKey();
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
            out.putString("tokenizer.chat_template", chatTemplate);
            for (GgufFile.Tensor t : in.tensors().values()) out.addTensor(t.name(), t.type(), t.shape());
            for (GgufFile.Tensor t : in.tensors().values()) {
                out.beginTensor(t.name());
                byte[] bytes = t.data().toArray(ValueLayout.JAVA_BYTE);
                out.write(bytes, 0, bytes.length);
            }
        }
        return target;
    }
}
