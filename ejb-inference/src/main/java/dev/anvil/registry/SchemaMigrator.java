package dev.anvil.registry;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.Resource;
import jakarta.annotation.security.PermitAll;
import jakarta.ejb.ConcurrencyManagement;
import jakarta.ejb.ConcurrencyManagementType;
import jakarta.ejb.Singleton;
import jakarta.ejb.Startup;
import jakarta.ejb.Timeout;
import jakarta.ejb.TimerConfig;
import jakarta.ejb.TimerService;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * Brings the registry schema up to date with Flyway when the application starts, before anything uses the
 * registry. The readiness check and {@link ModelRegistry} ask {@link #migrated()}; until it is true the
 * registry answers "unavailable" instead of failing on a missing table.
 *
 * <p>A failed migration does not fail the deployment: the server stays up, reports itself not ready with the
 * reason ({@link #failure()}), and retries every {@value #RETRY_SECONDS} seconds, which covers a database
 * that comes up after the application server.
 */
@Startup
@Singleton
@ConcurrencyManagement(ConcurrencyManagementType.BEAN)
// Flyway commits its own work on its own connections; inside a JTA transaction that is forbidden.
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
@PermitAll
public class SchemaMigrator {

    /** Where the SQL migrations lie, inside the anvil-persistence jar. */
    public static final String LOCATION = "classpath:db/migration";

    static final int RETRY_SECONDS = 10;

    private static final Logger LOG = Logger.getLogger(SchemaMigrator.class.getName());

    @Resource(lookup = "java:jboss/datasources/AnvilDS")
    DataSource dataSource;

    @Resource
    TimerService timers;

    private volatile boolean migrated;
    private volatile String appliedVersion;
    private volatile String failure = "migrations have not run yet";

    @PostConstruct
    void migrateAtStartup() {
        migrate();
    }

    @Timeout
    void retry() {
        migrate();
    }

    private synchronized void migrate() {
        if (migrated) return;
        try {
            Flyway flyway = Flyway.configure(SchemaMigrator.class.getClassLoader())
                    .dataSource(dataSource)
                    .locations(LOCATION)
                    // JBeret's JDBC job repository (server-config) creates its tables in this database when the
                    // server starts, before this runs: on a fresh database Flyway then finds a non-empty schema
                    // without its history table. Baselining at version 0 applies every migration from V1 there; a
                    // database Anvil migrated before has its history and is not affected.
                    .baselineOnMigrate(true)
                    .baselineVersion("0")
                    .load();
            MigrateResult result = flyway.migrate();
            MigrationInfo current = flyway.info().current();
            if (current == null) {
                throw new IllegalStateException(
                        "no migration found at " + LOCATION + " (is anvil-persistence in the EAR's lib/?)");
            }
            appliedVersion = current.getVersion().getVersion();
            failure = null;
            migrated = true;
            LOG.info(() -> "Registry schema at version " + appliedVersion + " (" + result.migrationsExecuted
                    + " migration(s) applied now, database " + result.database + ")");
        } catch (RuntimeException e) {
            failure = e.getClass().getSimpleName() + ": " + e.getMessage();
            LOG.log(Level.SEVERE, "Registry schema migration failed; retrying in " + RETRY_SECONDS + " s", e);
            timers.createSingleActionTimer(RETRY_SECONDS * 1000L, new TimerConfig("registry-migration-retry", false));
        }
    }

    /** True once every migration has been applied successfully; from then on the registry may be used. */
    public boolean migrated() {
        return migrated;
    }

    /** The schema version now in the database (e.g. "1"), or null before migrations completed. */
    public String appliedVersion() {
        return appliedVersion;
    }

    /** Why the last attempt failed, or null once migrated. */
    public String failure() {
        return failure;
    }
}
