package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The CLI configuration as the running server uses it. On H2 the harness runs configure.sh twice over the
 * copied configuration, and the second pass must leave the file byte-identical (the scripts are
 * idempotent); on PostgreSQL the datasource must have been switched while keeping the credentials out of
 * the file.
 */
@ExtendWith(AnvilServerExtension.class)
class ServerConfigurationIT {

    @Test
    void rerunningTheScriptsOnAConfiguredServerIsHarmless(AnvilServer server) throws IOException {
        String running = Files.readString(server.configurationFile());
        if (server.database().equals("h2")) {
            assertEquals(
                    server.configurationBeforeRerun(),
                    running,
                    "a second configure.sh pass with the same environment changed " + server.configurationFile());
            assertTrue(running.contains("jdbc:h2:file:${jboss.server.data.dir}/anvil/registry"), "H2 file database");
        } else {
            assertTrue(running.contains("<connection-url>${env.ANVIL_DB_URL}</connection-url>"), running);
            assertTrue(running.contains("${env.ANVIL_DB_PASSWORD}"), "password must stay an expression");
            assertFalse(
                    running.contains(PostgresServer.PASSWORD),
                    "the PostgreSQL password leaked into " + server.configurationFile());
            assertFalse(running.contains("jdbc:h2:file:"), "the H2 datasource must be replaced");
        }
    }

    @Test
    void serverResourcesAreConfiguredWithExpressions(AnvilServer server) throws IOException {
        String running = Files.readString(server.configurationFile());
        assertTrue(
                running.contains("jndi-name=\"java:jboss/ee/concurrency/executor/anvil-batching\""),
                "managed executor");
        assertTrue(running.contains("jndi-name=\"java:jboss/ee/concurrency/factory/anvil-engine\""), "thread factory");
        assertTrue(
                running.contains(
                        "<strict-max-pool name=\"anvil-inference-pool\" max-pool-size=\"${anvil.inference.pool.size,env.ANVIL_INFERENCE_POOL_SIZE:4}\""),
                "EJB pool size from an expression");
        assertTrue(
                running.contains("<cache-container name=\"anvil\" default-cache=\"responses\""),
                "response cache container");
        assertTrue(running.contains("urn:wildfly:microprofile-openapi-smallrye"), "OpenAPI subsystem");
        assertTrue(running.contains("<local-cache name=\"gateway-limits\""), "gateway rate-limit cache");
        assertTrue(
                running.contains("<security-domain name=\"AnvilDomain\" default-realm=\"AnvilRealm\""),
                "admin security domain");
        assertTrue(
                running.contains("<application-security-domain name=\"anvil\" security-domain=\"AnvilDomain\""),
                "web security domain mapping");
        Path jvmOptions = server.wildflyHome().resolve("bin/standalone.conf");
        assertTrue(
                Files.readString(jvmOptions)
                        .contains("--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"),
                "Vector API JVM options in " + jvmOptions);
    }

    /**
     * The Undertow the server runs (module io.undertow.core) has the public DoS fixes of 2.3.21 and later, and no jar
     * of an earlier version is left beside it (an upgrade unpacked over the old distribution would leave one).
     */
    @Test
    void undertowHasTheDenialOfServiceFixesOf2321(AnvilServer server) throws IOException {
        Path module = server.wildflyHome().resolve("modules/system/layers/base/io/undertow/core/main");
        List<String> jars;
        try (Stream<Path> files = Files.list(module)) {
            jars = files.map(f -> f.getFileName().toString())
                    .filter(n -> n.endsWith(".jar"))
                    .sorted()
                    .toList();
        }
        assertEquals(1, jars.size(), "one Undertow core jar in " + module + ": " + jars);
        java.util.regex.Matcher version = java.util.regex.Pattern.compile(
                        "undertow-core-(\\d+)\\.(\\d+)\\.(\\d+)\\..*\\.jar")
                .matcher(jars.getFirst());
        assertTrue(version.matches(), jars.getFirst());
        int[] v = {
            Integer.parseInt(version.group(1)), Integer.parseInt(version.group(2)), Integer.parseInt(version.group(3))
        };
        assertTrue(
                v[0] > 2 || (v[0] == 2 && (v[1] > 3 || (v[1] == 3 && v[2] >= 21))),
                "Undertow " + jars.getFirst() + " predates 2.3.21");
        String moduleXml = Files.readString(module.resolve("module.xml"));
        assertTrue(moduleXml.contains(jars.getFirst()), "module.xml loads " + jars.getFirst());
    }
}
