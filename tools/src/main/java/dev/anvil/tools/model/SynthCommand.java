package dev.anvil.tools.model;

import dev.anvil.engine.GgmlType;
import dev.anvil.tools.CliArgs;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/** {@code anvil synth}: writes a model with random weights in a real model's shape ({@link ModelSynthesizer}). */
public final class SynthCommand {

    private SynthCommand() {}

    public static int run(String[] args, PrintStream out, PrintStream err) throws IOException {
        CliArgs a = new CliArgs(
                args,
                Set.of("shape", "type", "seed", "out", "layers", "attenuate-from", "attenuation"),
                Set.of(),
                Set.of());
        ModelShape shape;
        try {
            shape = ModelShape.named(a.required("shape"));
        } catch (IllegalArgumentException e) {
            throw new CliArgs.UsageException(e.getMessage());
        }
        String typeName = a.string("type", "Q8_0").toUpperCase(java.util.Locale.ROOT);
        GgmlType type = switch (typeName) {
            case "F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K" -> GgmlType.valueOf(typeName);
            case "Q4_K_S" -> GgmlType.Q4_K;
            default ->
                throw new CliArgs.UsageException(
                        "--type must be one of F16, Q8_0, Q4_0, Q4_K, F32, BF16; got '" + typeName + "'");
        };
        long seed = a.longValue("seed", 0);
        Path target = Path.of(a.required("out"));
        Path parent = target.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new CliArgs.UsageException("output directory " + parent + " does not exist");
        }
        int layers = a.integer("layers", shape.layers(), 1, shape.layers());
        long start = System.nanoTime();
        ModelSynthesizer synth = new ModelSynthesizer(shape, type, seed, err, layers);
        if (a.has("attenuate-from")) {
            synth.attenuate(
                    a.integer("attenuate-from", shape.layers(), 1, shape.layers()),
                    a.number("attenuation", 0.1f, 0.0001f, 1f));
        }
        synth.write(target);
        double seconds = (System.nanoTime() - start) / 1e9;
        out.printf(
                "wrote %s: %s%s, %s, %,d bytes, seed %d (%.1f s)%n",
                target,
                shape.name(),
                layers == shape.layers()
                        ? String.format(", %,d parameters", shape.parameters())
                        : " (first " + layers + " of " + shape.layers() + " layers)",
                typeName,
                Files.size(target),
                seed,
                seconds);
        return 0;
    }
}
