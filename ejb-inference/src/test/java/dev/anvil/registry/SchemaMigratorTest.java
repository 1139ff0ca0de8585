package dev.anvil.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.ejb.TimerConfig;
import jakarta.ejb.TimerService;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;

class SchemaMigratorTest {

    /** Records the single-action timers the migrator asks for; any other TimerService call fails the test. */
    private static TimerService recordingTimers(List<Long> delays) {
        return (TimerService) Proxy.newProxyInstance(
                SchemaMigratorTest.class.getClassLoader(),
                new Class<?>[] {TimerService.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("createSingleActionTimer") && args[1] instanceof TimerConfig config) {
                        assertFalse(config.isPersistent(), "a retry timer must not outlive the server");
                        delays.add((Long) args[0]);
                        return null;
                    }
                    throw new AssertionError("unexpected TimerService call " + method.getName());
                });
    }

    @Test
    void unreachableDatabaseLeavesRegistryUnmigratedAndSchedulesARetryThatSucceedsLater() {
        JdbcDataSource db = new JdbcDataSource();
        // IFEXISTS: connecting fails while the database does not exist yet, like a database server not up yet.
        db.setURL("jdbc:h2:mem:migrator-retry;IFEXISTS=TRUE;DB_CLOSE_DELAY=-1");
        db.setUser("sa");
        List<Long> delays = new ArrayList<>();
        SchemaMigrator migrator = new SchemaMigrator();
        migrator.dataSource = db;
        migrator.timers = recordingTimers(delays);

        migrator.migrateAtStartup();
        assertFalse(migrator.migrated());
        assertNull(migrator.appliedVersion());
        assertTrue(migrator.failure() != null && !migrator.failure().isBlank());
        assertEquals(List.of(SchemaMigrator.RETRY_SECONDS * 1000L), delays);

        // The database comes up: the next timer firing migrates, and no further retry is scheduled.
        db.setURL("jdbc:h2:mem:migrator-retry;DB_CLOSE_DELAY=-1");
        migrator.retry();
        assertTrue(migrator.migrated(), migrator.failure());
        assertEquals("9", migrator.appliedVersion());
        assertNull(migrator.failure());
        assertEquals(1, delays.size());

        // Once migrated, a stray retry does nothing.
        migrator.retry();
        assertEquals(1, delays.size());
    }

    @Test
    void aFreshDatabaseHoldingOnlyJBeretsTablesIsMigratedFromV1() throws java.sql.SQLException {
        JdbcDataSource db = new JdbcDataSource();
        db.setURL("jdbc:h2:mem:migrator-jberet;DB_CLOSE_DELAY=-1");
        db.setUser("sa");
        // what JBeret's JDBC job repository creates when the server starts, before the application migrates
        try (var c = db.getConnection();
                var s = c.createStatement()) {
            s.execute("CREATE TABLE JOB_INSTANCE (JOBINSTANCEID BIGINT PRIMARY KEY, JOBNAME VARCHAR(512))");
        }
        SchemaMigrator migrator = new SchemaMigrator();
        migrator.dataSource = db;
        migrator.timers = recordingTimers(new ArrayList<>());
        migrator.migrateAtStartup();
        assertTrue(migrator.migrated(), migrator.failure());
        assertEquals("9", migrator.appliedVersion());
        try (var c = db.getConnection();
                var s = c.createStatement();
                var r = s.executeQuery("SELECT COUNT(*) FROM batch_job")) {
            assertTrue(r.next(), "every migration ran, V8 included");
        }
        try (var c = db.getConnection();
                var s = c.createStatement();
                var r = s.executeQuery("SELECT COUNT(*) FROM routing_router")) {
            assertTrue(r.next(), "every migration ran, V9 included");
        }
    }
}
