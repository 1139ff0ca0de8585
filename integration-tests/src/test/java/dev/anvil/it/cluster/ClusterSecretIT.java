package dev.anvil.it.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * server-config/bin/configure.sh (which serve.sh and the harness run before every start) refuses to configure a
 * cluster node without a usable cluster secret, naming what is missing, before it touches a configuration: without
 * the secret any host that reaches the JGroups port could join. No server is started.
 */
class ClusterSecretIT {

    private static final Map<String, String> CLUSTER = Map.of(
            "ANVIL_CLUSTER",
            "true",
            "ANVIL_DB_URL",
            "jdbc:postgresql://127.0.0.1:5432/anvil",
            "ANVIL_DB_USER",
            "anvil",
            "ANVIL_DB_PASSWORD",
            "unused");

    @Test
    void aClusterNodeWithoutASecretIsRefused() throws Exception {
        String output = configure(null);
        assertTrue(output.contains("ANVIL_CLUSTER=true needs ANVIL_CLUSTER_SECRET"), output);
    }

    @Test
    void aSecretThatIsShortOrCarriesExpressionSyntaxIsRefused() throws Exception {
        for (String secret : new String[] {"too-short", "a".repeat(40) + "${env.PATH}", "b".repeat(513)}) {
            String output = configure(secret);
            assertTrue(output.contains("ANVIL_CLUSTER_SECRET must be 32 to 512 characters"), secret + ": " + output);
        }
    }

    /** Runs configure.sh for a cluster node on an empty base directory; asserts exit status 1; returns its output. */
    private static String configure(String secret) throws IOException, InterruptedException {
        Path configure = Path.of(System.getProperty("anvil.it.configure"));
        Path baseDir = Files.createTempDirectory(Path.of("target"), "cluster-secret");
        ProcessBuilder builder = new ProcessBuilder(
                        "bash", configure.toString(), System.getProperty("anvil.it.wildfly.home"))
                .redirectErrorStream(true);
        builder.environment().putAll(CLUSTER);
        builder.environment().put("ANVIL_SERVER_BASE_DIR", baseDir.toString());
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().remove("ANVIL_CLUSTER_SECRET");
        if (secret != null) builder.environment().put("ANVIL_CLUSTER_SECRET", secret);
        Process process = builder.start();
        String output;
        try (var in = process.getInputStream()) {
            output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "configure.sh did not finish");
        assertEquals(1, process.exitValue(), output);
        try (var files = Files.list(baseDir)) {
            assertEquals(0, files.count(), "configure.sh wrote into " + baseDir + " before refusing");
        }
        Files.delete(baseDir);
        return output;
    }
}
