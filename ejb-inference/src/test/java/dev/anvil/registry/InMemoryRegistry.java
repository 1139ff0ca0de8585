package dev.anvil.registry;

import dev.anvil.persistence.testing.TestDatabases;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import org.h2.jdbcx.JdbcDataSource;

/**
 * The real registry on an in-memory H2 database migrated by the real migrator, for tests outside this package
 * that need registry lookups (reads run without a transaction, as with NOT_SUPPORTED callers in the server).
 */
public final class InMemoryRegistry implements AutoCloseable {

    private final EntityManagerFactory emf;
    private final SchemaMigrator migrator = new SchemaMigrator();

    public InMemoryRegistry(String databaseName) {
        JdbcDataSource h2 = TestDatabases.inMemory(databaseName);
        migrator.dataSource = h2;
        migrator.migrateAtStartup();
        if (!migrator.migrated()) throw new IllegalStateException("migration failed: " + migrator.failure());
        emf = TestDatabases.persistenceUnit(h2);
    }

    /** A registry bean on a fresh persistence context (close it with {@link #close(ModelRegistry)}). */
    public ModelRegistry open() {
        ModelRegistry registry = new ModelRegistry();
        registry.em = emf.createEntityManager();
        registry.inspector = new ArtifactInspector();
        registry.metrics = new RegistryMetrics();
        registry.migrator = migrator;
        return registry;
    }

    public static void close(ModelRegistry registry) {
        EntityManager em = registry.em;
        if (em != null && em.isOpen()) em.close();
    }

    @Override
    public void close() {
        emf.close();
    }
}
