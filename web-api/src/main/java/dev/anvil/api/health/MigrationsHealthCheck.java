package dev.anvil.api.health;

import dev.anvil.api.WebApiConfig;
import jakarta.annotation.Resource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;
import org.eclipse.microprofile.health.Startup;

/**
 * Readiness and startup: the registry schema migrations (Flyway, run by the registry at deployment) have
 * been applied. Reads Flyway's history table rather than a registry bean so it also catches a schema that
 * was migrated by another node or failed half-way.
 */
@Readiness
@Startup
@ApplicationScoped
public class MigrationsHealthCheck implements HealthCheck {

    public static final String NAME = "registry-migrations";

    @Resource(lookup = "java:jboss/datasources/AnvilDS")
    DataSource dataSource;

    @Inject
    WebApiConfig config;

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder response = HealthCheckResponse.named(NAME);
        String table = config.migrationsTable();
        // Flyway creates the table with a quoted lower-case name; quoting keeps H2 from upper-casing it.
        String sql = "SELECT COUNT(*), SUM(CASE WHEN \"success\" THEN 0 ELSE 1 END) FROM \"" + table + "\"";
        try (Connection connection = dataSource.getConnection();
                Statement statement = connection.createStatement()) {
            statement.setQueryTimeout(config.databaseCheckTimeoutSeconds());
            try (ResultSet result = statement.executeQuery(sql)) {
                result.next();
                long applied = result.getLong(1);
                long failed = result.getLong(2);
                response.withData("applied", applied).withData("failed", failed);
                if (applied == 0) {
                    return response.down()
                            .withData("error", "no migration recorded in " + table)
                            .build();
                }
                if (failed > 0) {
                    return response.down()
                            .withData("error", failed + " failed migration(s) in " + table)
                            .build();
                }
                return response.up()
                        .withData("latestVersion", latestVersion(connection, table))
                        .build();
            }
        } catch (SQLException e) {
            return response.down()
                    .withData("error", "cannot read " + table + ": " + e.getMessage())
                    .build();
        }
    }

    private static String latestVersion(Connection connection, String table) throws SQLException {
        String sql = "SELECT \"version\" FROM \"" + table
                + "\" WHERE \"version\" IS NOT NULL ORDER BY \"installed_rank\" DESC";
        try (Statement statement = connection.createStatement()) {
            statement.setMaxRows(1);
            try (ResultSet result = statement.executeQuery(sql)) {
                return result.next() ? result.getString(1) : "none";
            }
        }
    }
}
