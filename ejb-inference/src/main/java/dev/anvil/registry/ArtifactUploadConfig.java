package dev.anvil.registry;

import dev.anvil.config.ConfigBounds;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/** Where uploaded model files are stored ({@code POST .../versions/{version}/file}) and how large one may be. */
@ApplicationScoped
public class ArtifactUploadConfig {

    /** Directory uploaded files are written to; default {@code <server data dir>/anvil/uploads}. */
    @Inject
    @ConfigProperty(name = "anvil.registry.upload.dir")
    Optional<String> dir;

    /** Largest upload in bytes; the stream is cut and the upload refused beyond it. */
    @Inject
    @ConfigProperty(name = "anvil.registry.upload.max-bytes", defaultValue = "68719476736")
    long maxBytes;

    public Path dir() {
        if (dir.isPresent() && !dir.get().isBlank()) return Path.of(dir.get().strip());
        String data = System.getProperty("jboss.server.data.dir", System.getProperty("java.io.tmpdir"));
        return Path.of(data, "anvil", "uploads");
    }

    public long maxBytes() {
        return ConfigBounds.atLeast("anvil.registry.upload.max-bytes", maxBytes, 1);
    }
}
