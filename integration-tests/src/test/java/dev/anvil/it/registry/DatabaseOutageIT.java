package dev.anvil.it.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerProfile;
import dev.anvil.it.TestModel;
import jakarta.json.JsonObject;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The database goes away under a running server (its own PostgreSQL, stopped as an outage would stop it, then started
 * again): registry and admin writes answer 503 with {@code Retry-After} and a message that says the database is
 * unavailable, generations go on, and once the database is back the same writes succeed. PostgreSQL run only (tag
 * {@code database-outage}): an embedded H2 database cannot be taken away from the server that embeds it.
 */
@ExtendWith(AnvilServerExtension.class)
@ServerProfile(AnvilServer.Profile.DATABASE_OUTAGE)
@Tag("database-outage")
class DatabaseOutageIT {

    @AfterAll
    static void stopTheServer() {
        AnvilServer.stop(AnvilServer.Profile.DATABASE_OUTAGE); // nobody else uses it: free its memory now
    }

    private static void assertDatabaseUnavailable(HttpResult r) {
        assertEquals(503, r.status(), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        assertEquals("service_unavailable_error", error.getString("type"), r::toString);
        assertEquals("database_unavailable", error.getString("code"), r::toString);
        assertTrue(error.getString("message").contains("database is unavailable"), r::toString);
        assertTrue(error.getString("message").contains("incident"), r::toString);
        long retryAfter = Long.parseLong(r.headers().firstValue("Retry-After").orElse("0"));
        assertTrue(retryAfter >= 1, r::toString);
    }

    @Test
    void writesDuringAnOutageAre503WithRetryAfterServingGoesOnAndTheServerRecovers(AnvilServer server) {
        String model = "outage-" + UUID.randomUUID().toString().substring(0, 8);
        HttpResult before = TestModel.post(server, model, "1.0.0");
        assertEquals(201, before.status(), before::toString);
        String completion = "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"max_tokens\":4}";
        assertEquals(200, server.post("/v1/completions", completion).status());

        server.stopDatabase();
        try {
            assertDatabaseUnavailable(TestModel.post(server, model, "2.0.0"));
            assertDatabaseUnavailable(server.post(
                    "/api/registry/models/" + model + "/versions/1.0.0/stage",
                    "{\"stage\":\"STAGING\",\"reason\":\"during the outage\"}"));
            assertDatabaseUnavailable(server.post(
                    "/api/gateway/tenants",
                    "{\"name\":\"outage-" + UUID.randomUUID().toString().substring(0, 8) + "\"}"));
            assertDatabaseUnavailable(server.get("/api/registry/models/" + model));
            // Generations need no database: the bundled model keeps answering.
            HttpResult served = server.post("/v1/completions", completion);
            assertEquals(200, served.status(), "serving must go on while the database is away: " + served);
            assertEquals(503, server.get("/health/ready").status(), "readiness reports the database");
        } finally {
            server.startDatabase();
        }

        HttpResult after = Eventually.until(
                () -> TestModel.post(server, model, "2.0.0"), r -> r.status() != 503, Duration.ofSeconds(60));
        assertEquals(201, after.status(), "the server recovers once the database is back: " + after);
        HttpResult tenant = server.post(
                "/api/gateway/tenants",
                "{\"name\":\"after-" + UUID.randomUUID().toString().substring(0, 8) + "\"}");
        assertEquals(201, tenant.status(), tenant::toString);
        HttpResult versions = server.get("/api/registry/models/" + model + "/versions");
        assertEquals(200, versions.status(), versions::toString);
        assertTrue(versions.body().contains("\"2.0.0\"") && versions.body().contains("\"1.0.0\""), versions::toString);
        assertEquals(
                200,
                Eventually.until(() -> server.get("/health/ready"), r -> r.status() == 200, Duration.ofSeconds(60))
                        .status());
    }
}
