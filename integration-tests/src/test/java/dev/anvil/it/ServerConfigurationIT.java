package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
            assertEquals(server.configurationBeforeRerun(), running,
                    "a second configure.sh pass with the same environment changed " + server.configurationFile());
            assertTrue(running.contains("jdbc:h2:file:${jboss.server.data.dir}/anvil/registry"), "H2 file database");
        } else {
            assertTrue(running.contains("<connection-url>${env.ANVIL_DB_URL}</connection-url>"), running);
            assertTrue(running.contains("${env.ANVIL_DB_PASSWORD}"), "password must stay an expression");
            assertFalse(running.contains(PostgresServer.PASSWORD), "the PostgreSQL password leaked into " + server.configurationFile());
            assertFalse(running.contains("jdbc:h2:file:"), "the H2 datasource must be replaced");
        }
    }

    @Test
    void serverResourcesAreConfiguredWithExpressions(AnvilServer server) throws IOException {
        String running = Files.readString(server.configurationFile());
        assertTrue(running.contains("jndi-name=\"java:jboss/ee/concurrency/executor/anvil-batching\""), "managed executor");
        assertTrue(running.contains("jndi-name=\"java:jboss/ee/concurrency/factory/anvil-engine\""), "thread factory");
        assertTrue(running.contains("<strict-max-pool name=\"anvil-inference-pool\" max-pool-size=\"${anvil.inference.pool.size,env.ANVIL_INFERENCE_POOL_SIZE:4}\""),
                "EJB pool size from an expression");
        assertTrue(running.contains("<cache-container name=\"anvil\" default-cache=\"responses\""), "response cache container");
        assertTrue(running.contains("urn:wildfly:microprofile-openapi-smallrye"), "OpenAPI subsystem");
        assertTrue(running.contains("<local-cache name=\"gateway-limits\""), "gateway rate-limit cache");
        assertTrue(running.contains("<security-domain name=\"AnvilDomain\" default-realm=\"AnvilRealm\""), "admin security domain");
        assertTrue(running.contains("<application-security-domain name=\"anvil\" security-domain=\"AnvilDomain\""), "web security domain mapping");
        Path jvmOptions = server.wildflyHome().resolve("bin/standalone.conf");
        assertTrue(Files.readString(jvmOptions).contains("--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"),
                "Vector API JVM options in " + jvmOptions);
    }
}
