package dev.anvil.api;

import dev.anvil.config.ConfigBounds;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Every MicroProfile Config key of the web-api module, in one place. Each key can be overridden by a
 * system property, by a file in the server's config directory (docs/CONFIGURATION.md) or by the environment
 * variable obtained by upper-casing the key and replacing '.' and '-' with '_'.
 */
@ApplicationScoped
public class WebApiConfig {

    /** {@code anvil.health.database.timeout-seconds}: query timeout of the database readiness check. */
    public static final String DATABASE_CHECK_TIMEOUT = "anvil.health.database.timeout-seconds";
    /** {@code anvil.health.migrations.table}: Flyway history table the migrations check reads. */
    public static final String MIGRATIONS_TABLE = "anvil.health.migrations.table";
    /** {@code anvil.metrics.http.enabled}: whether every API request is timed into anvil_http_requests. */
    public static final String HTTP_METRICS_ENABLED = "anvil.metrics.http.enabled";

    /**
     * {@code anvil.api.max-json-depth}: deepest nesting of arrays and objects accepted in any request body (deeper
     * bodies get 400 invalid_json while they are read). OpenAI requests nest a few levels; a JSON Schema in
     * response_format some tens.
     */
    public static final String MAX_JSON_DEPTH = "anvil.api.max-json-depth";

    public static final int DEFAULT_MAX_JSON_DEPTH = 128;

    @Inject
    @ConfigProperty(name = MAX_JSON_DEPTH, defaultValue = "" + DEFAULT_MAX_JSON_DEPTH)
    int maxJsonDepth;

    @Inject
    @ConfigProperty(name = DATABASE_CHECK_TIMEOUT, defaultValue = "3")
    int databaseCheckTimeoutSeconds;

    @Inject
    @ConfigProperty(name = MIGRATIONS_TABLE, defaultValue = "flyway_schema_history")
    String migrationsTable;

    @Inject
    @ConfigProperty(name = HTTP_METRICS_ENABLED, defaultValue = "true")
    boolean httpMetricsEnabled;

    public int databaseCheckTimeoutSeconds() {
        return ConfigBounds.atLeast(DATABASE_CHECK_TIMEOUT, databaseCheckTimeoutSeconds, 1);
    }

    public String migrationsTable() {
        // The name is spliced into SQL, so only plain identifiers are accepted.
        if (!migrationsTable.matches("[A-Za-z_][A-Za-z0-9_]{0,62}")) {
            throw new IllegalStateException(
                    MIGRATIONS_TABLE + " must be a plain SQL identifier, got '" + migrationsTable + "'");
        }
        return migrationsTable;
    }

    public int maxJsonDepth() {
        return ConfigBounds.atLeast(MAX_JSON_DEPTH, maxJsonDepth, 8);
    }

    public boolean httpMetricsEnabled() {
        return httpMetricsEnabled;
    }
}
