package dev.anvil.api.error;

import java.net.ConnectException;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLTransientConnectionException;

/**
 * Whether a failure means that the database cannot be reached (down, restarting, unreachable, or the pool cannot get
 * a connection), as opposed to a fault of the request or of the server. Such failures are the database's, for a
 * while: the client gets 503 with {@code Retry-After} instead of a 500, and the same request succeeds once it is back.
 *
 * <p>Recognised anywhere in the cause chain: a {@link SQLException} whose SQLState is of class 08 (connection
 * exception: refused, broken, lost) or one of PostgreSQL's shutdown states 57P01-57P03 (admin shutdown, crash
 * shutdown, cannot connect now), the JDBC connection exception types, a refused TCP connection, Hibernate's
 * {@code JDBCConnectionException}, and the JCA pool's {@code ResourceException} (IronJacamar: "unable to get managed
 * connection", no connection within the blocking timeout). Matched by class name where the type belongs to a
 * library the web module does not compile against.
 */
final class DatabaseUnavailable {

    /** Seconds a client should wait before retrying (the pool re-validates connections on each use). */
    static final int RETRY_AFTER_SECONDS = 5;

    private static final String HIBERNATE_CONNECTION = "org.hibernate.exception.JDBCConnectionException";
    private static final String JCA_RESOURCE = "jakarta.resource.ResourceException";

    private DatabaseUnavailable() {}

    static boolean causedBy(Throwable failure) {
        Throwable current = failure;
        for (int depth = 0; depth < 32 && current != null; depth++) {
            if (isUnavailable(current)) return true;
            if (current instanceof SQLException sql
                    && sql.getNextException() != null
                    && isUnavailable(sql.getNextException())) return true;
            current = current.getCause() == current ? null : current.getCause();
        }
        return false;
    }

    private static boolean isUnavailable(Throwable t) {
        if (t instanceof SQLTransientConnectionException
                || t instanceof SQLNonTransientConnectionException
                || t instanceof ConnectException) {
            return true;
        }
        if (t instanceof SQLException sql && sql.getSQLState() != null) {
            String state = sql.getSQLState();
            if (state.startsWith("08") || state.equals("57P01") || state.equals("57P02") || state.equals("57P03"))
                return true;
        }
        for (Class<?> c = t.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
            if (c.getName().equals(HIBERNATE_CONNECTION) || c.getName().equals(JCA_RESOURCE)) return true;
        }
        return false;
    }
}
