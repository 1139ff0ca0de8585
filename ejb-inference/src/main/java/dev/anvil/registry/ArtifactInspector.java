package dev.anvil.registry;

import dev.anvil.engine.BertEncoder;
import dev.anvil.engine.GgufFile;
import dev.anvil.engine.Llama2cHeader;
import dev.anvil.engine.LlamaModel;
import dev.anvil.registry.domain.ArtifactFormat;
import dev.anvil.serving.ServingConfig;
import dev.anvil.serving.chat.ChatTemplate;
import dev.anvil.serving.chat.ChatTemplateException;
import dev.anvil.serving.chat.ChatTemplateLimits;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Measures a model file on the server before it is registered: SHA-256 and size of its bytes (streamed,
 * so multi-gigabyte files never sit in memory), then architecture, quantization and parameter count from
 * its header, and whether the engine could serve it (hyper-parameters, tensor shapes, tokenizer and chat template
 * are checked the way loading will use them). Every problem becomes a {@link RegistryException.Kind#BAD_REQUEST} naming the file and what is
 * wrong, and nothing here touches the database, so a refused file leaves no trace in the registry.
 */
@ApplicationScoped
public class ArtifactInspector {

    private static final int HASH_BUFFER = 1 << 20;
    private static final String CHAT_TEMPLATE_KEY = "tokenizer.chat_template";

    /** MicroProfile Config key: comma-separated directories that model files must lie under. */
    public static final String ARTIFACT_ROOTS = "anvil.registry.artifact-roots";

    /**
     * Where registrable files may lie ({@value #ARTIFACT_ROOTS}). Unset means any file the server can read:
     * convenient on a developer machine; production deployments should name their model directories, since
     * the registry API would otherwise hash and parse any server file a caller names.
     */
    @Inject
    @ConfigProperty(name = ARTIFACT_ROOTS)
    Optional<String> artifactRoots = Optional.empty();

    /** The chat template limits a registered template is verified under (null outside CDI: the defaults). */
    @Inject
    ServingConfig serving;

    /**
     * @param requestedFormat the format the client says the file has, or null to detect it (GGUF only:
     *                        llama2.c checkpoints have no magic number, so they must be named explicitly)
     * @param expectedSha256  lowercase hex the file must hash to, or null
     */
    public ArtifactFacts inspect(String pathText, ArtifactFormat requestedFormat, String expectedSha256) {
        Path path = resolve(pathText);
        requireAllowed(path);
        BasicFileAttributes before = attributes(path);
        Digest digest = sha256(path);
        if (expectedSha256 != null && !expectedSha256.equals(digest.hex())) {
            throw RegistryException.badRequest(
                    "checksum mismatch for " + path + ": expected sha256 " + expectedSha256 + " but the file hashes to "
                            + digest.hex(),
                    "sha256",
                    "checksum_mismatch");
        }
        ArtifactFormat format = detectFormat(path, requestedFormat);
        ArtifactFacts facts = format == ArtifactFormat.GGUF
                ? ggufFacts(
                        path,
                        digest,
                        serving == null ? ChatTemplateLimits.DEFAULT : serving.chatTemplateLimits(),
                        requestedFormat == null)
                : llama2cFacts(path, digest);
        // The header was read after hashing: refuse the registration if the file changed in between.
        BasicFileAttributes after = attributes(path);
        if (after.size() != digest.size()
                || after.size() != before.size()
                || !after.lastModifiedTime().equals(before.lastModifiedTime())) {
            throw RegistryException.badRequest(
                    path + " changed while it was being registered; retry once it is complete",
                    "path",
                    "artifact_changed");
        }
        return facts;
    }

    private static Path resolve(String pathText) {
        if (pathText == null || pathText.isBlank()) {
            throw RegistryException.badRequest(
                    "path is required: the model file's absolute path on the server", "path", null);
        }
        Path path;
        try {
            path = Path.of(pathText);
        } catch (InvalidPathException e) {
            throw RegistryException.badRequest(
                    "path '" + pathText + "' is not a valid file path: " + e.getReason(), "path", null);
        }
        if (!path.isAbsolute()) {
            throw RegistryException.badRequest(
                    "path '" + pathText + "' must be absolute (a file on the server)", "path", null);
        }
        path = path.normalize();
        if (!Files.exists(path)) {
            throw RegistryException.badRequest("no file at " + path + " on the server", "path", "artifact_not_found");
        }
        if (!Files.isRegularFile(path)) {
            throw RegistryException.badRequest(path + " is not a regular file", "path", "artifact_not_found");
        }
        if (!Files.isReadable(path)) {
            throw RegistryException.badRequest(path + " is not readable by the server", "path", "artifact_unreadable");
        }
        return path;
    }

    /** Refuses files outside the configured roots, judged on real paths so symbolic links cannot escape them. */
    private void requireAllowed(Path path) {
        if (artifactRoots.isEmpty() || artifactRoots.get().isBlank()) return;
        List<String> roots = new ArrayList<>();
        try {
            Path real = path.toRealPath();
            for (String root : artifactRoots.get().split(",")) {
                if (root.isBlank()) continue;
                roots.add(root.strip());
                Path rootPath = Path.of(root.strip());
                if (Files.isDirectory(rootPath) && real.startsWith(rootPath.toRealPath())) return;
            }
        } catch (IOException | InvalidPathException e) {
            throw RegistryException.badRequest(
                    "cannot resolve " + path + ": " + e.getMessage(), "path", "artifact_unreadable");
        }
        throw RegistryException.badRequest(
                path + " is outside the directories model files are registered from " + roots + " (" + ARTIFACT_ROOTS
                        + ")",
                "path",
                "path_not_allowed");
    }

    private static BasicFileAttributes attributes(Path path) {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class);
        } catch (IOException e) {
            throw RegistryException.badRequest(
                    "cannot read " + path + ": " + e.getMessage(), "path", "artifact_unreadable");
        }
    }

    record Digest(String hex, long size) {}

    static Digest sha256(Path path) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform provides SHA-256", e);
        }
        long size = 0;
        byte[] buffer = new byte[HASH_BUFFER];
        try (InputStream in = Files.newInputStream(path)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                sha.update(buffer, 0, n);
                size += n;
            }
        } catch (IOException e) {
            throw RegistryException.badRequest(
                    "cannot read " + path + ": " + e.getMessage(), "path", "artifact_unreadable");
        }
        return new Digest(HexFormat.of().formatHex(sha.digest()), size);
    }

    /**
     * The format to read the file as. GGUF unless llama2.c is named: a file without the GGUF magic is then refused by
     * the engine's GGUF reader, with a hint (llama2.c checkpoints have no magic number, so they must be named).
     */
    private static ArtifactFormat detectFormat(Path path, ArtifactFormat requested) {
        if (requested == null || requested == ArtifactFormat.GGUF) return ArtifactFormat.GGUF;
        boolean ggufMagic;
        try {
            ggufMagic = GgufFile.hasMagic(path);
        } catch (IOException e) {
            throw RegistryException.badRequest(
                    "cannot read " + path + ": " + e.getMessage(), "path", "artifact_unreadable");
        }
        if (ggufMagic) {
            throw RegistryException.badRequest(
                    path + " is a GGUF file but format " + requested + " was given", "format", "format_mismatch");
        }
        return requested;
    }

    private static ArtifactFacts ggufFacts(
            Path path, Digest digest, ChatTemplateLimits templateLimits, boolean formatDetected) {
        // GgufFile validates the whole header and tensor directory (bounds, types, truncation) while opening;
        // any failure there, whatever its exception type, means the file cannot be registered.
        try (GgufFile gguf = GgufFile.open(path)) {
            String architecture = gguf.getString("general.architecture");
            if (gguf.tensors().isEmpty()) {
                throw new IllegalArgumentException("it has no tensors (a vocabulary-only file?)");
            }
            // Everything loading will need (hyper-parameters, tensors and their shapes, the tokenizer), checked now
            // without loading: a file the engine cannot serve is refused here rather than at its first use.
            // An encoder (embedding model) has its own network and no chat template to check.
            if (BertEncoder.isEncoder(gguf)) BertEncoder.inspect(gguf);
            else LlamaModel.inspect(gguf);
            if (!gguf.has("tokenizer.ggml.model")) {
                throw new IllegalArgumentException(
                        "it has no tokenizer (metadata key tokenizer.ggml.model is missing)");
            }
            checkChatTemplate(path, gguf, templateLimits);
            long parameters = 0;
            for (GgufFile.Tensor t : gguf.tensors().values()) {
                parameters = Math.addExact(parameters, t.elementCount());
            }
            String quantization = QuantizationNames.of(gguf);
            return new ArtifactFacts(
                    path.toString(),
                    ArtifactFormat.GGUF,
                    digest.hex(),
                    digest.size(),
                    architecture,
                    quantization,
                    parameters);
        } catch (RegistryException e) {
            throw e;
        } catch (IOException | RuntimeException | OutOfMemoryError | StackOverflowError e) {
            // The errors too: a hostile header that got past the bounds checks must still be a refusal, not a 500.
            boolean mayBeLlama2c = formatDetected && !hasGgufMagic(path);
            throw unreadable(
                    path, "GGUF", e, mayBeLlama2c ? "; to register a llama2.c checkpoint, pass format LLAMA2C" : "");
        }
    }

    private static boolean hasGgufMagic(Path path) {
        try {
            return GgufFile.hasMagic(path);
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * A model whose chat template cannot render a simple conversation would fail every chat request: refuse it now,
     * naming the problem. The template is run with the serving limits, with the BOS/EOS texts of the file's vocabulary.
     */
    private static void checkChatTemplate(Path path, GgufFile gguf, ChatTemplateLimits limits) {
        Object source = gguf.metadata().get(CHAT_TEMPLATE_KEY);
        if (source == null) return;
        if (!(source instanceof String template)) {
            throw RegistryException.badRequest(
                    path + ": metadata " + CHAT_TEMPLATE_KEY + " is not a string", "path", "invalid_chat_template");
        }
        try {
            ChatTemplate.of(
                            template,
                            tokenText(gguf, "tokenizer.ggml.bos_token_id"),
                            tokenText(gguf, "tokenizer.ggml.eos_token_id"),
                            limits)
                    .verify();
        } catch (ChatTemplateException e) {
            throw RegistryException.badRequest(
                    path + ": its " + CHAT_TEMPLATE_KEY + " is refused: " + e.getMessage(),
                    "path",
                    "invalid_chat_template");
        }
    }

    private static String tokenText(GgufFile gguf, String idKey) {
        String[] tokens = gguf.getStringArray("tokenizer.ggml.tokens");
        int id = gguf.getInt(idKey, -1);
        return tokens != null && id >= 0 && id < tokens.length ? tokens[id] : "";
    }

    private static ArtifactFacts llama2cFacts(Path path, Digest digest) {
        try {
            Llama2cHeader header = Llama2cHeader.read(path);
            // The engine needs at least the bytes the header describes; registration also refuses trailing bytes,
            // which mean the file is something else that happens to start with a plausible header.
            if (digest.size() != header.describedBytes()) {
                throw new IllegalArgumentException("file is " + digest.size()
                        + " bytes but its llama2.c header describes " + header.describedBytes()
                        + " bytes (not a llama2.c checkpoint)");
            }
            // llama2.c checkpoints are Llama networks stored in float32, by definition of the format.
            return new ArtifactFacts(
                    path.toString(),
                    ArtifactFormat.LLAMA2C,
                    digest.hex(),
                    digest.size(),
                    "llama",
                    "F32",
                    header.parameterCount());
        } catch (IOException | RuntimeException | OutOfMemoryError | StackOverflowError e) {
            throw unreadable(path, "llama2.c", e, "");
        }
    }

    private static RegistryException unreadable(Path path, String format, Throwable e, String hint) {
        String detail = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        // The engine's messages start with the path already; avoid saying it twice.
        String prefix = path + ": ";
        if (detail.startsWith(prefix)) detail = detail.substring(prefix.length());
        return RegistryException.badRequest(
                "cannot read " + path + " as a " + format + " model: " + detail + hint, "path", "unreadable_artifact");
    }
}
