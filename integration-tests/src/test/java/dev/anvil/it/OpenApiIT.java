package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** /openapi (WildFly's MicroProfile OpenAPI subsystem) documents the web-api endpoints with schemas. */
@ExtendWith(AnvilServerExtension.class)
class OpenApiIT {

    @Test
    void documentListsOperationalEndpointsAndErrorSchema(AnvilServer server) {
        HttpResult openapi = server.request("GET", "/openapi", null, Map.of("Accept", "application/json"));
        assertEquals(200, openapi.status(), openapi::toString);
        JsonObject document = openapi.json();
        assertTrue(document.getString("openapi").startsWith("3."), openapi::toString);
        assertEquals("Anvil", document.getJsonObject("info").getString("title"), openapi::toString);
        JsonObject paths = document.getJsonObject("paths");
        for (String path : new String[] {"/health", "/health/live", "/health/ready", "/health/started", "/metrics"}) {
            assertTrue(paths.containsKey(path), "missing " + path + " in " + paths.keySet());
        }
        JsonObject schemas = document.getJsonObject("components").getJsonObject("schemas");
        assertTrue(schemas.containsKey("ErrorResponse"), schemas.keySet()::toString);
        assertTrue(schemas.containsKey("HealthReport"), schemas.keySet()::toString);
        // Swagger UI's asset route is an implementation detail and hidden from the document.
        assertTrue(paths.keySet().stream().noneMatch(p -> p.startsWith("/swagger-ui")), paths.keySet()::toString);
    }

    @Test
    void formatQueryParameterSelectsJsonAsSwaggerUiRequests(AnvilServer server) {
        // swagger-initializer.js loads "/openapi?format=JSON".
        HttpResult json = server.get("/openapi?format=JSON");
        assertEquals(200, json.status(), json::toString);
        assertTrue(json.json().getJsonObject("paths").containsKey("/health/ready"), json::toString);
    }

    @Test
    void yamlIsTheDefaultFormat(AnvilServer server) {
        HttpResult yaml = server.get("/openapi");
        assertEquals(200, yaml.status(), yaml::toString);
        assertTrue(yaml.body().startsWith("---") || yaml.body().startsWith("openapi:"), yaml::toString);
        assertTrue(yaml.body().contains("/health/ready:"), yaml::toString);
    }
}
