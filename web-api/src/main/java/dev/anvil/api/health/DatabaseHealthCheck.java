package dev.anvil.api.health;

import dev.anvil.api.WebApiConfig;
import jakarta.annotation.Resource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.Statement;
import javax.sql.DataSource;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/** Readiness: the registry database answers a real query through the pooled JTA datasource. */
@Readiness
@ApplicationScoped
public class DatabaseHealthCheck implements HealthCheck {

    public static final String NAME = "database";

    @Resource(lookup = "java:jboss/datasources/AnvilDS")
    DataSource dataSource;

    @Inject
    WebApiConfig config;

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder response = HealthCheckResponse.named(NAME);
        long started = System.nanoTime();
        try (Connection connection = dataSource.getConnection();
                Statement statement = connection.createStatement()) {
            statement.setQueryTimeout(config.databaseCheckTimeoutSeconds());
            try (ResultSet result = statement.executeQuery("SELECT 1")) {
                if (!result.next() || result.getInt(1) != 1) {
                    return response.down()
                            .withData("error", "SELECT 1 returned no row or a wrong value")
                            .build();
                }
            }
            DatabaseMetaData metaData = connection.getMetaData();
            return response.up()
                    .withData("product", metaData.getDatabaseProductName())
                    .withData("version", metaData.getDatabaseProductVersion())
                    .withData("latencyMillis", (System.nanoTime() - started) / 1_000_000)
                    .build();
        } catch (Exception e) {
            return response.down()
                    .withData("error", e.getClass().getSimpleName() + ": " + e.getMessage())
                    .build();
        }
    }
}
