package dev.anvil.api.error;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;
import java.sql.SQLException;
import java.sql.SQLIntegrityConstraintViolationException;
import java.sql.SQLTransientConnectionException;
import org.junit.jupiter.api.Test;

class DatabaseUnavailableTest {

    /** The chain an EJB call sees when PostgreSQL is down: container wrapper, JPA, pool, driver, socket. */
    @Test
    void aRefusedConnectionDeepInTheChainIsTheDatabaseBeingUnavailable() {
        Throwable driver = new SQLException(
                "Connection to 127.0.0.1:5432 refused", "08001", new ConnectException("Connection refused"));
        Throwable pool = new RuntimeException(
                "IJ000453: Unable to get managed connection for java:jboss/datasources/AnvilDS", driver);
        Throwable jpa = new jakarta.persistence.PersistenceException("Unable to acquire JDBC Connection", pool);
        assertTrue(DatabaseUnavailable.causedBy(new jakarta.ejb.EJBException(new IllegalStateException("tx", jpa))));
    }

    @Test
    void connectionStatesAndTypesAreRecognised() {
        assertTrue(DatabaseUnavailable.causedBy(
                new SQLException("An I/O error occurred while sending to the backend", "08006")));
        assertTrue(DatabaseUnavailable.causedBy(
                new SQLException("terminating connection due to administrator command", "57P01")));
        assertTrue(DatabaseUnavailable.causedBy(new SQLException("the database system is starting up", "57P03")));
        assertTrue(DatabaseUnavailable.causedBy(new SQLTransientConnectionException("timeout")));
        assertTrue(DatabaseUnavailable.causedBy(new RuntimeException(new ConnectException("refused"))));
        SQLException batch = new SQLException("Batch entry 0 was aborted", "XX000");
        batch.setNextException(new SQLException("connection lost", "08003"));
        assertTrue(DatabaseUnavailable.causedBy(batch), "a batch failure names its cause as the next exception");
        assertTrue(DatabaseUnavailable.causedBy(
                new jakarta.resource.ResourceException("IJ000655: No managed connections available")));
    }

    @Test
    void otherFailuresAreNot() {
        assertFalse(
                DatabaseUnavailable.causedBy(new SQLIntegrityConstraintViolationException("duplicate key", "23505")));
        assertFalse(DatabaseUnavailable.causedBy(new SQLException("syntax error", "42601")));
        assertFalse(DatabaseUnavailable.causedBy(new SQLException("no state")));
        assertFalse(DatabaseUnavailable.causedBy(new IllegalStateException("a bug", new NullPointerException())));
        Throwable cycle = new RuntimeException("a");
        Throwable other = new RuntimeException("b", cycle);
        cycle.initCause(other);
        assertFalse(DatabaseUnavailable.causedBy(cycle), "a cause cycle ends the walk");
    }
}
