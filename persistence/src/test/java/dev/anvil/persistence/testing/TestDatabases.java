package dev.anvil.persistence.testing;

import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.Persistence;
import java.util.HashMap;
import java.util.Map;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.h2.jdbcx.JdbcDataSource;

/**
 * The schema tests' database outside the server: an in-memory H2 database, the real Flyway migrations and the real
 * persistence unit "anvil" on it. Shared with the ejb-inference tests through this module's test jar.
 */
public final class TestDatabases {

    private TestDatabases() {}

    /** An empty in-memory database that lives until the JVM ends (DB_CLOSE_DELAY=-1), whoever connects. */
    public static JdbcDataSource inMemory(String name) {
        JdbcDataSource h2 = new JdbcDataSource();
        h2.setURL("jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1");
        h2.setUser("sa");
        return h2;
    }

    /** Flyway with this module's migrations on {@code db}, for a test to narrow ({@code target}) before loading. */
    public static FluentConfiguration flyway(DataSource db) {
        return Flyway.configure().dataSource(db).locations("classpath:db/migration");
    }

    /** {@link #inMemory} with every migration applied. */
    public static JdbcDataSource migrated(String name) {
        JdbcDataSource db = inMemory(name);
        flyway(db).load().migrate();
        return db;
    }

    /**
     * The production persistence unit "anvil" on {@code db}: outside the server there is no JTA, so it runs as
     * RESOURCE_LOCAL; and in JPA compliance mode, as WildFly runs Hibernate, to reject what the server would.
     */
    public static EntityManagerFactory persistenceUnit(DataSource db) {
        Map<String, Object> overrides = new HashMap<>();
        overrides.put("jakarta.persistence.transactionType", "RESOURCE_LOCAL");
        overrides.put("jakarta.persistence.jtaDataSource", null);
        overrides.put("jakarta.persistence.nonJtaDataSource", db);
        overrides.put("hibernate.jpa.compliance", "true");
        return Persistence.createEntityManagerFactory("anvil", overrides);
    }
}
