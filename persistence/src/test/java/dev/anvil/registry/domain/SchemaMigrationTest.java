package dev.anvil.registry.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.persistence.testing.TestDatabases;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.PersistenceException;
import java.io.InputStream;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import javax.sql.DataSource;
import javax.xml.parsers.DocumentBuilderFactory;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.output.MigrateResult;
import org.h2.jdbcx.JdbcDataSource;
import org.hibernate.SessionFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Runs the real Flyway migrations on an in-memory H2 database, then boots the real persistence unit
 * ("anvil", from the production persistence.xml) against it and validates the entity mapping against
 * the migrated schema, so any drift between entities and SQL fails the build. Also checks that the
 * database itself enforces the registry's rules (one PRODUCTION version per model, unique versions).
 */
class SchemaMigrationTest {

    private static final String SHA = "b".repeat(64);

    private static DataSource dataSource;
    private static EntityManagerFactory emf;

    @BeforeAll
    static void migrateAndBoot() {
        dataSource = TestDatabases.inMemory("registry-schema-test");
        MigrateResult result = TestDatabases.flyway(dataSource).load().migrate();
        assertTrue(result.success);
        assertEquals("8", result.targetSchemaVersion);
        emf = TestDatabases.persistenceUnit(dataSource);
    }

    @AfterAll
    static void close() {
        if (emf != null) emf.close();
    }

    @Test
    void entityMappingMatchesMigratedSchema() {
        // Throws SchemaManagementException naming the table/column on any missing table, column or type mismatch.
        emf.unwrap(SessionFactory.class).getSchemaManager().validateMappedObjects();
    }

    @Test
    void mappingDriftIsDetected() throws SQLException {
        // Proves the validation above can fail: the same check on a schema missing one column must throw.
        JdbcDataSource other = TestDatabases.migrated("registry-drift-test");
        try (Connection c = other.getConnection();
                Statement s = c.createStatement()) {
            s.execute("ALTER TABLE registry_model_version DROP COLUMN promoted_by");
        }
        EntityManagerFactory drifted = TestDatabases.persistenceUnit(other);
        try {
            RuntimeException e = assertThrows(
                    RuntimeException.class,
                    () -> drifted.unwrap(SessionFactory.class)
                            .getSchemaManager()
                            .validateMappedObjects());
            assertTrue(e.getMessage().contains("promoted_by"), e.getMessage());
        } finally {
            drifted.close();
        }
    }

    @Test
    void migrationsAreRecordedAndIdempotent() {
        Flyway flyway = TestDatabases.flyway(dataSource).load();
        MigrateResult again = flyway.migrate();
        assertEquals(0, again.migrationsExecuted);
        MigrationInfo current = flyway.info().current();
        assertNotNull(current);
        assertEquals("8", current.getVersion().getVersion());
        flyway.validate();
    }

    @Test
    void productionPersistenceUnitNeverGeneratesSchema() throws Exception {
        Document xml;
        try (InputStream in = getClass().getClassLoader().getResourceAsStream("META-INF/persistence.xml")) {
            assertNotNull(in, "META-INF/persistence.xml on the classpath");
            DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
            f.setNamespaceAware(true);
            xml = f.newDocumentBuilder().parse(in);
        }
        Element unit =
                (Element) xml.getElementsByTagNameNS("*", "persistence-unit").item(0);
        assertEquals("anvil", unit.getAttribute("name"));
        assertEquals("JTA", unit.getAttribute("transaction-type"));
        assertEquals(
                "java:jboss/datasources/AnvilDS",
                unit.getElementsByTagNameNS("*", "jta-data-source")
                        .item(0)
                        .getTextContent()
                        .trim());
        Map<String, String> props = new HashMap<>();
        NodeList nodes = unit.getElementsByTagNameNS("*", "property");
        for (int i = 0; i < nodes.getLength(); i++) {
            Element p = (Element) nodes.item(i);
            props.put(p.getAttribute("name"), p.getAttribute("value"));
        }
        assertEquals("none", props.get("jakarta.persistence.schema-generation.database.action"));
        assertEquals("none", props.get("hibernate.hbm2ddl.auto"));
    }

    @Test
    void entitiesRoundTripThroughTheSchema() {
        Instant now = Instant.parse("2026-03-04T05:06:07.123456Z");
        long versionId = inTransaction(
                em -> {
                    Model m = new Model("roundtrip", "desc", "team-a", List.of("x", "y"), "alice", now);
                    em.persist(m);
                    Artifact a =
                            new Artifact("/models/a.gguf", ArtifactFormat.GGUF, SHA, 1185376, "llama", "F32", 292_032);
                    ModelVersion v = new ModelVersion(m, SemanticVersion.parse("1.0.0-rc.1+b7"), a, "rc", "alice", now);
                    em.persist(v);
                    v.moveTo(Stage.STAGING, "bob", "try it", now.plusSeconds(1));
                },
                em -> em.createQuery("select v.id from ModelVersion v where v.model.name = 'roundtrip'", Long.class)
                        .getSingleResult());

        EntityManager em = emf.createEntityManager();
        try {
            ModelVersion v = em.find(ModelVersion.class, versionId);
            assertEquals("1.0.0-rc.1+b7", v.version().toString());
            assertEquals(Stage.STAGING, v.stage());
            assertEquals(now, v.createdAt());
            assertEquals("bob", v.promotedBy());
            assertEquals(ArtifactFormat.GGUF, v.artifact().format());
            assertEquals(1185376, v.artifact().sizeBytes());
            assertEquals(292_032, v.artifact().parameterCount());
            assertEquals(List.of("x", "y"), List.copyOf(v.model().tags()));
            List<StageTransition> history = em.createNamedQuery(StageTransition.BY_VERSION, StageTransition.class)
                    .setParameter("version", v)
                    .getResultList();
            assertEquals(2, history.size());
            assertNull(history.get(0).from());
            assertEquals(Stage.NONE, history.get(0).to());
            assertEquals(Stage.NONE, history.get(1).from());
            assertEquals(Stage.STAGING, history.get(1).to());
            assertEquals("try it", history.get(1).reason());
            assertEquals(
                    1,
                    em.createNamedQuery(ModelVersion.BY_MODEL_AND_VERSION, ModelVersion.class)
                            .setParameter("model", v.model())
                            .setParameter("version", SemanticVersion.parse("1.0.0-rc.1+b7"))
                            .getResultList()
                            .size());
        } finally {
            em.close();
        }
    }

    @Test
    void databaseRefusesASecondProductionVersionOfOneModel() {
        Instant now = Instant.now();
        inTransaction(
                em -> {
                    Model m = new Model("two-prods", null, null, null, "alice", now);
                    em.persist(m);
                    ModelVersion v1 =
                            new ModelVersion(m, SemanticVersion.parse("1.0.0"), artifact(), null, "alice", now);
                    em.persist(v1);
                    v1.moveTo(Stage.PRODUCTION, "alice", null, now);
                },
                em -> null);

        // Bypass the service's archiving step, as a buggy or concurrent writer would: the UNIQUE constraint must refuse
        // it.
        PersistenceException e = assertThrows(
                PersistenceException.class,
                () -> inTransaction(
                        em -> {
                            Model m = em.createNamedQuery(Model.BY_NAME, Model.class)
                                    .setParameter("name", "two-prods")
                                    .getSingleResult();
                            ModelVersion v2 =
                                    new ModelVersion(m, SemanticVersion.parse("2.0.0"), artifact(), null, "alice", now);
                            em.persist(v2);
                            em.flush();
                            v2.moveTo(Stage.PRODUCTION, "alice", null, now);
                            em.flush();
                        },
                        em -> null));
        assertTrue(causeChain(e).toUpperCase().contains("UQ_REGISTRY_ONE_PRODUCTION_PER_MODEL"), causeChain(e));

        // Different models may each have their own PRODUCTION version.
        inTransaction(
                em -> {
                    Model other = new Model("other-prod", null, null, null, "alice", now);
                    em.persist(other);
                    ModelVersion v =
                            new ModelVersion(other, SemanticVersion.parse("1.0.0"), artifact(), null, "alice", now);
                    em.persist(v);
                    v.moveTo(Stage.PRODUCTION, "alice", null, now);
                },
                em -> null);
    }

    @Test
    void databaseTiesTheProductionMarkerToTheStage() throws SQLException {
        Instant now = Instant.now();
        long id = inTransaction(
                em -> {
                    Model m = new Model("marker", null, null, null, "alice", now);
                    em.persist(m);
                    em.persist(new ModelVersion(m, SemanticVersion.parse("1.0.0"), artifact(), null, "alice", now));
                },
                em -> em.createQuery("select v.id from ModelVersion v where v.model.name = 'marker'", Long.class)
                        .getSingleResult());
        try (Connection c = dataSource.getConnection();
                Statement s = c.createStatement()) {
            SQLException e = assertThrows(
                    SQLException.class,
                    () -> s.executeUpdate("UPDATE registry_model_version SET stage = 'PRODUCTION' WHERE id = " + id));
            assertTrue(e.getMessage().toUpperCase().contains("CK_REGISTRY_MODEL_VERSION_PRODUCTION"), e.getMessage());
            e = assertThrows(
                    SQLException.class,
                    () -> s.executeUpdate("UPDATE registry_model_version SET stage = 'LIVE' WHERE id = " + id));
            assertTrue(e.getMessage().toUpperCase().contains("CK_REGISTRY_MODEL_VERSION_STAGE"), e.getMessage());
        }
    }

    @Test
    void databaseRefusesDuplicateVersionsOfOneModel() {
        Instant now = Instant.now();
        PersistenceException e = assertThrows(
                PersistenceException.class,
                () -> inTransaction(
                        em -> {
                            Model m = new Model("dupes", null, null, null, "alice", now);
                            em.persist(m);
                            em.persist(new ModelVersion(
                                    m, SemanticVersion.parse("1.0.0"), artifact(), null, "alice", now));
                            em.persist(
                                    new ModelVersion(m, SemanticVersion.parse("1.0.0"), artifact(), null, "bob", now));
                            em.flush();
                        },
                        em -> null));
        assertTrue(causeChain(e).toUpperCase().contains("UQ_REGISTRY_MODEL_VERSION"), causeChain(e));
    }

    private static Artifact artifact() {
        return new Artifact("/models/a.gguf", ArtifactFormat.GGUF, SHA, 10, "llama", "F32", 10);
    }

    private static <T> T inTransaction(
            Consumer<EntityManager> work, java.util.function.Function<EntityManager, T> result) {
        EntityManager em = emf.createEntityManager();
        try {
            em.getTransaction().begin();
            work.accept(em);
            em.getTransaction().commit();
            return result.apply(em);
        } finally {
            if (em.getTransaction().isActive()) em.getTransaction().rollback();
            em.close();
        }
    }

    private static String causeChain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) sb.append(c).append(" | ");
        return sb.toString();
    }
}
