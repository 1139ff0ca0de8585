package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** MicroProfile Health probes on the application port, evaluated against the run's real database. */
@ExtendWith(AnvilServerExtension.class)
class HealthIT {

    private static Map<String, JsonObject> checksByName(HttpResult result) {
        return result.json().getJsonArray("checks").stream()
                .map(JsonValue::asJsonObject)
                .collect(Collectors.toMap(check -> check.getString("name"), check -> check));
    }

    @Test
    void readinessIsUpWithRealDatabaseAndMigrationChecks(AnvilServer server) {
        HttpResult ready = server.get("/health/ready");
        assertEquals(200, ready.status(), ready::toString);
        assertTrue(ready.contentType().startsWith("application/json"), ready::toString);
        assertEquals("UP", ready.json().getString("status"), ready::toString);

        Map<String, JsonObject> checks = checksByName(ready);
        JsonObject database = checks.get("database");
        assertEquals("UP", database.getString("status"), ready::toString);
        String expectedProduct = server.database().equals("postgresql") ? "PostgreSQL" : "H2";
        assertEquals(
                expectedProduct,
                database.getJsonObject("data").getString("product"),
                "the readiness check must query the database of this run: " + ready);

        JsonObject migrations = checks.get("registry-migrations");
        assertEquals("UP", migrations.getString("status"), ready::toString);
        assertTrue(migrations.getJsonObject("data").getJsonNumber("applied").longValue() >= 1, ready::toString);
        assertEquals(0, migrations.getJsonObject("data").getJsonNumber("failed").longValue(), ready::toString);
    }

    @Test
    void livenessReportsVectorApiComputedInsideTheDeployment(AnvilServer server) {
        HttpResult live = server.get("/health/live");
        assertEquals(200, live.status(), live::toString);
        assertEquals("UP", live.json().getString("status"), live::toString);
        JsonObject engine = checksByName(live).get("engine-environment");
        int lanes = engine.getJsonObject("data").getInt("floatLanes");
        int bits = engine.getJsonObject("data").getInt("vectorBitSize");
        assertTrue(lanes >= 1, live::toString);
        assertEquals(bits, lanes * Float.SIZE, "bits = lanes * 32 for FloatVector: " + live);
    }

    @Test
    void startupIsUpOnceMigrationsRan(AnvilServer server) {
        HttpResult started = server.get("/health/started");
        assertEquals(200, started.status(), started::toString);
        assertTrue(checksByName(started).containsKey("registry-migrations"), started::toString);
    }

    @Test
    void aggregateHealthListsEveryCheckOnce(AnvilServer server) {
        HttpResult all = server.get("/health");
        assertEquals(200, all.status(), all::toString);
        Map<String, JsonObject> checks = checksByName(all); // toMap throws on duplicate names
        assertTrue(
                checks.keySet().containsAll(java.util.Set.of("database", "registry-migrations", "engine-environment")),
                all::toString);
    }

    @Test
    void managementPortReportsTheDeploymentReady(AnvilServer server) {
        // WildFly's own probes (management port) cover server state and deployment status. In an EAR its
        // health CDI extension only sees one module's beans, which is why the application checks are
        // served on the application port by HealthResource.
        HttpResult management = server.request(
                "GET", server.managementUri().resolve("/health/ready").toString(), null, Map.of());
        assertEquals(200, management.status(), management::toString);
        JsonObject deployments = checksByName(management).get("deployments-status");
        assertEquals("OK", deployments.getJsonObject("data").getString("anvil.ear"), management::toString);
    }
}
