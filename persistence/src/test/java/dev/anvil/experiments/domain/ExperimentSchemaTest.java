package dev.anvil.experiments.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.persistence.testing.TestDatabases;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.PersistenceException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import java.util.function.Consumer;
import org.h2.jdbcx.JdbcDataSource;
import org.hibernate.SessionFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * V2 on a real (in-memory H2) database: the experiment entities match the migrated schema, round-trip, and the
 * database itself backs the invariants (one control per experiment, ratings on their scale, unique names).
 */
class ExperimentSchemaTest {

    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
    private static JdbcDataSource h2;
    private static EntityManagerFactory emf;

    @BeforeAll
    static void migrate() {
        h2 = TestDatabases.migrated("experiment-schema-test");
        emf = TestDatabases.persistenceUnit(h2);
    }

    @AfterAll
    static void close() {
        if (emf != null) emf.close();
    }

    private static void tx(Consumer<EntityManager> work) {
        EntityManager em = emf.createEntityManager();
        try {
            em.getTransaction().begin();
            work.accept(em);
            em.getTransaction().commit();
        } finally {
            if (em.getTransaction().isActive()) em.getTransaction().rollback();
            em.close();
        }
    }

    @Test
    void mappingMatchesSchema() {
        emf.unwrap(SessionFactory.class).getSchemaManager().validateMappedObjects();
    }

    @Test
    void experimentRoundTripsWithVariantsEventsOutcomesAndFeedback() {
        tx(em -> {
            Experiment e = ExperimentLifecycleTest.ab("roundtrip");
            e.start("bob", T0.plusSeconds(1));
            em.persist(e);
            em.flush();
            Variant candidate = e.variant("candidate");
            em.persist(new Assignment(e, "a".repeat(64), candidate, T0));
            em.persist(new Outcome(candidate, "resp-1", 120, 30L, 10, 20, false, 0.002, T0));
            em.persist(new Feedback("resp-1", FeedbackScale.STARS, 2, "too long", T0));
        });
        tx(em -> {
            Experiment e = em.createNamedQuery(Experiment.BY_NAME, Experiment.class)
                    .setParameter("name", "roundtrip")
                    .getSingleResult();
            assertEquals(ExperimentStatus.RUNNING, e.status());
            assertEquals(2, e.variants().size());
            assertTrue(e.control().control());
            assertEquals("Be brief.", e.variant("candidate").systemPrompt());
            assertEquals(2, e.events().size());
            assertEquals(PrimaryMetric.ERROR_RATE, e.primaryMetric());
            assertEquals(new Guardrails(0.05, 2000L, 0.2, 100), e.guardrails());
            List<Object[]> feedback = em.createNamedQuery(Feedback.FOR_EXPERIMENT, Object[].class)
                    .setParameter("experiment", e)
                    .getResultList();
            assertEquals(1, feedback.size());
            assertEquals(e.variant("candidate").id(), feedback.get(0)[1]);
            assertTrue(((Feedback) feedback.get(0)[0]).negative());
        });
    }

    @Test
    void databaseRefusesSecondControlAndDuplicateNames() throws SQLException {
        tx(em -> em.persist(ExperimentLifecycleTest.ab("db-rules")));
        try (Connection c = h2.getConnection();
                Statement s = c.createStatement()) {
            long id;
            try (var rs = s.executeQuery("SELECT id FROM experiment WHERE name = 'db-rules'")) {
                rs.next();
                id = rs.getLong(1);
            }
            assertThrows(
                    SQLException.class,
                    () -> s.executeUpdate("INSERT INTO experiment_variant (experiment_id, name, model_version, "
                            + "weight_percent, control, control_of) VALUES (" + id + ", 'second', '1.0.0', 0, TRUE, "
                            + id + ")"));
            assertThrows(
                    SQLException.class,
                    () -> s.executeUpdate("INSERT INTO response_feedback (response_id, scale, rating, created_at) "
                            + "VALUES ('r', 'THUMBS', 4, CURRENT_TIMESTAMP)"));
        }
        assertThrows(PersistenceException.class, () -> tx(em -> em.persist(ExperimentLifecycleTest.ab("db-rules"))));
    }

    @Test
    void oneRatingPerResponseIsADatabaseRuleAndAReplacementIsStored() throws SQLException {
        tx(em -> em.persist(new Feedback("resp-once", FeedbackScale.THUMBS, 1, null, T0)));
        try (Connection c = h2.getConnection();
                Statement s = c.createStatement()) {
            assertThrows(
                    SQLException.class,
                    () -> s.executeUpdate("INSERT INTO response_feedback (response_id, scale, rating, created_at) "
                            + "VALUES ('resp-once', 'THUMBS', -1, CURRENT_TIMESTAMP)"));
        }
        tx(em -> em.createNamedQuery(Feedback.BY_RESPONSE, Feedback.class)
                .setParameter("responseId", "resp-once")
                .getSingleResult()
                .replace(FeedbackScale.STARS, 1, "changed my mind", T0.plusSeconds(60)));
        tx(em -> {
            Feedback f = em.createNamedQuery(Feedback.BY_RESPONSE, Feedback.class)
                    .setParameter("responseId", "resp-once")
                    .getSingleResult();
            assertEquals(FeedbackScale.STARS, f.scale());
            assertEquals(1, f.rating());
            assertEquals("changed my mind", f.comment());
            assertTrue(f.negative());
        });
    }

    @Test
    void theMigrationToOneRatingPerResponseKeepsTheLatestOfEarlierDuplicates() throws SQLException {
        JdbcDataSource before = TestDatabases.inMemory("feedback-dedupe-test");
        TestDatabases.flyway(before).target("4").load().migrate();
        try (Connection c = before.getConnection();
                Statement s = c.createStatement()) {
            for (String row : List.of("('twice', 'THUMBS', 1)", "('once', 'STARS', 4)", "('twice', 'THUMBS', -1)")) {
                s.executeUpdate("INSERT INTO response_feedback (response_id, scale, rating, created_at) VALUES "
                        + row.replace(")", ", CURRENT_TIMESTAMP)"));
            }
        }
        TestDatabases.flyway(before).load().migrate();
        try (Connection c = before.getConnection();
                Statement s = c.createStatement();
                var rs = s.executeQuery("SELECT response_id, rating FROM response_feedback ORDER BY response_id")) {
            assertTrue(rs.next());
            assertEquals("once", rs.getString(1));
            assertEquals(4, rs.getInt(2));
            assertTrue(rs.next());
            assertEquals("twice", rs.getString(1));
            assertEquals(-1, rs.getInt(2), "the latest rating of a response survives");
            assertTrue(!rs.next());
        }
    }

    @Test
    void shadowComparisonsRoundTripAndRefuseTheControlAndBadValues() {
        tx(em -> {
            Experiment e = ExperimentLifecycleTest.ab("shadow-rows");
            em.persist(e);
            em.flush();
            em.persist(new ShadowComparison(
                    e.variant("candidate"), "resp-s1", 100, 140, 12, 15, 50, 61, false, 0.4, false, T0));
        });
        tx(em -> {
            Experiment e = em.createNamedQuery(Experiment.BY_NAME, Experiment.class)
                    .setParameter("name", "shadow-rows")
                    .getSingleResult();
            List<ShadowComparison> rows = em.createNamedQuery(ShadowComparison.BY_EXPERIMENT, ShadowComparison.class)
                    .setParameter("experiment", e)
                    .getResultList();
            assertEquals(1, rows.size());
            assertEquals("candidate", rows.get(0).variant().name());
            assertEquals(140, rows.get(0).shadowLatencyMs());
            assertEquals(0.4, rows.get(0).similarity());
            assertThrows(
                    InvalidExperimentException.class,
                    () -> new ShadowComparison(e.control(), "r", 1, 1, 1, 1, 1, 1, true, 1, false, T0));
            assertThrows(
                    InvalidExperimentException.class,
                    () -> new ShadowComparison(e.variant("candidate"), "r", 1, 1, 1, 1, 1, 1, true, 1.5, false, T0));
        });
    }
}
