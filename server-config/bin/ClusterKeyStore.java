import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Writes the key store of a cluster node's JGroups encryption (profiles/clustered.cli, protocol SYM_ENCRYPT):
 * a PKCS12 file holding one AES-256 key, alias {@code anvil-cluster}, derived from the cluster secret, so that every
 * node given the same secret holds the same key and no key file has to be copied between machines.
 *   java ClusterKeyStore.java OUTPUT_FILE      (run by configure.sh when ANVIL_CLUSTER=true)
 * The secret comes from the environment variable ANVIL_CLUSTER_SECRET, never from the command line, which other
 * users of the machine can read. The store and its key entry are protected by the secret too, which is also what
 * the server hands the key store (credential references ${env.ANVIL_CLUSTER_SECRET}). The file is written
 * owner-only and replaced in one move, so a running node never reads half a store.
 */
public final class ClusterKeyStore {

    static final String ALIAS = "anvil-cluster";
    /** Fixed: the key must come out the same on every node. Names its use, so no other key derived from the secret equals it. */
    private static final byte[] SALT = "anvil/jgroups/SYM_ENCRYPT/aes-256".getBytes(StandardCharsets.US_ASCII);
    /** PBKDF2 stretching against guessing a weak secret from captured traffic; about a tenth of a second, once per configure. */
    private static final int ITERATIONS = 200_000;

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: java ClusterKeyStore.java OUTPUT_FILE  (secret in ANVIL_CLUSTER_SECRET)");
            System.exit(2);
        }
        String secret = System.getenv("ANVIL_CLUSTER_SECRET");
        if (secret == null || secret.isEmpty()) {
            System.err.println("ClusterKeyStore: ANVIL_CLUSTER_SECRET is not set");
            System.exit(1);
        }
        char[] password = secret.toCharArray();
        byte[] key = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256")
                .generateSecret(new PBEKeySpec(password, SALT, ITERATIONS, 256)).getEncoded();

        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setEntry(ALIAS, new KeyStore.SecretKeyEntry(new SecretKeySpec(key, "AES")), new KeyStore.PasswordProtection(password));

        Path output = Path.of(args[0]).toAbsolutePath();
        Path temporary = Files.createTempFile(output.getParent(), ".anvil-cluster", ".p12",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            try (OutputStream out = Files.newOutputStream(temporary)) {
                store.store(out, password);
            }
            Files.move(temporary, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(temporary);
            throw e;
        }
    }
}
