package dev.anvil.registry;

import java.nio.file.Files;
import java.nio.file.Path;

/** Model files the registry tests measure; a missing file fails the run rather than skipping tests. */
final class TestFiles {

    static final String STORIES_SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
    static final long STORIES_SIZE = 1_185_376;
    /** Sum of the element counts of its 48 F32 tensors (norm vectors included). */
    static final long STORIES_PARAMETERS = 292_800;

    static final String REF_Q8_SHA256 = "2153b7ae5b479c988e38dff17d36dabb55f7827c70b6ff9a83e0743cb4d8a32c";
    static final long REF_Q8_PARAMETERS = 19_532_032;

    private TestFiles() {}

    /** The repository's default model (models/ at the repository root; tests run in the module directory). */
    static Path storiesGguf() {
        return existing(Path.of("../models/stories260K.gguf"));
    }

    static Path sharedDir() {
        return existing(Path.of(System.getProperty("anvil.shared.dir", "../../shared")));
    }

    static Path referenceModel(String name) {
        return existing(sharedDir().resolve("reference/models").resolve(name));
    }

    static Path storiesLlama2c() {
        return existing(sharedDir().resolve("models/stories260K.bin"));
    }

    private static Path existing(Path path) {
        Path absolute = path.toAbsolutePath().normalize();
        if (!Files.isRegularFile(absolute) && !Files.isDirectory(absolute)) {
            throw new IllegalStateException("test data not found at " + absolute
                    + " (set -Danvil.shared.dir to the shared reference directory)");
        }
        return absolute;
    }
}
