package dev.anvil.registry;

import dev.anvil.registry.domain.RegistryText;
import dev.anvil.registry.domain.SemanticVersion;
import dev.anvil.security.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A model file uploaded through the admin API, streamed to the upload directory and registered from there: the
 * registration checks it exactly as it checks a file named by path (format, header, sha256, chat template,
 * {@code anvil.registry.artifact-roots}), and a file it refuses is deleted. The body is copied in 1 MiB chunks, never
 * held in memory, and cut at {@code anvil.registry.upload.max-bytes}; a partial upload (client gone, disk full) leaves
 * nothing behind. Runs outside a transaction: writing gigabytes must not hold one open (the registration has its own).
 */
@Stateless
@RolesAllowed(Roles.ADMIN)
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
public class ArtifactUploads {

    private static final Logger LOG = Logger.getLogger(ArtifactUploads.class.getName());
    private static final int CHUNK = 1 << 20;

    @EJB
    ModelRegistry registry;

    @Inject
    ArtifactUploadConfig config;

    /** Stores {@code body} as the file of {@code model@version} and registers it; throws what registration throws. */
    public ModelVersionInfo upload(
            String model, String version, InputStream body, String format, String sha256, String description) {
        // Cheap checks first: a bad name or version must not cost a multi-gigabyte transfer to disk.
        RegistryRules.check(() -> RegistryText.requireModelName(model));
        SemanticVersion parsed = RegistryRules.check(() -> SemanticVersion.parse(version));
        Path dir = config.dir();
        Path part = null;
        Path stored = null;
        try {
            Files.createDirectories(dir);
            part = Files.createTempFile(dir, model + "-", ".part");
            long written = copyBounded(body, part, config.maxBytes());
            if (written == 0) {
                throw RegistryException.badRequest(
                        "the upload is empty: send the model file as the body", "file", "upload_empty");
            }
            // Unique name per upload, so a refused or repeated upload never overwrites a registered file.
            stored = dir.resolve(model + "-" + parsed.toString() + "-"
                    + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()) + extension(format));
            Files.move(part, stored, StandardCopyOption.ATOMIC_MOVE);
            part = null;
            ModelVersionInfo registered = registry.registerVersion(new RegisterVersionCommand(
                    model, version, stored.toString(), format, sha256, description, null, null, List.of()));
            stored = null; // registered: it is the version's file now
            return registered;
        } catch (IOException e) {
            throw RegistryException.badRequest(
                    "the upload could not be stored: " + e.getMessage(), "file", "upload_failed");
        } finally {
            delete(part);
            delete(stored);
        }
    }

    /** Copies at most {@code max} bytes; more is refused (the file is deleted by the caller). */
    private static long copyBounded(InputStream in, Path target, long max) throws IOException {
        byte[] buffer = new byte[CHUNK];
        long total = 0;
        try (OutputStream out = Files.newOutputStream(target)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                total += n;
                if (total > max) {
                    throw RegistryException.badRequest(
                            "the upload is larger than anvil.registry.upload.max-bytes (" + max + " bytes)",
                            "file",
                            "upload_too_large");
                }
                out.write(buffer, 0, n);
            }
        }
        return total;
    }

    private static String extension(String format) {
        return format != null && format.strip().equalsIgnoreCase("LLAMA2C") ? ".bin" : ".gguf";
    }

    private static void delete(Path file) {
        if (file == null) return;
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "could not delete the refused upload " + file, e);
        }
    }
}
