package dev.anvil.registry;

import jakarta.persistence.LockTimeoutException;
import jakarta.persistence.OptimisticLockException;
import jakarta.persistence.PessimisticLockException;
import java.sql.SQLException;
import java.util.Optional;

/**
 * Recognises database failures that mean "someone else got there first" rather than "the server is broken":
 * integrity-constraint violations (SQLSTATE class 23, the registry's UNIQUE and CHECK backstops) and lock or
 * serialization failures. Both H2 and PostgreSQL report these standard SQLSTATEs.
 */
final class PersistenceFailures {

    private PersistenceFailures() {}

    enum Cause {
        CONSTRAINT,
        CONCURRENCY
    }

    /** Classifies {@code failure}, or empty when it is none of the above (a real server error). */
    static Optional<Cause> classify(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof PessimisticLockException
                    || t instanceof LockTimeoutException
                    || t instanceof OptimisticLockException) {
                return Optional.of(Cause.CONCURRENCY);
            }
            if (t instanceof SQLException sql && sql.getSQLState() != null) {
                String state = sql.getSQLState();
                if (state.startsWith("23")) return Optional.of(Cause.CONSTRAINT);
                // 40001 serialization failure, 40P01 deadlock (PostgreSQL), 55P03 lock not available (PostgreSQL),
                // HYT00 lock timeout (H2).
                if (state.equals("40001") || state.equals("40P01") || state.equals("55P03") || state.equals("HYT00")) {
                    return Optional.of(Cause.CONCURRENCY);
                }
            }
        }
        return Optional.empty();
    }

    /** Whether a message in the failure's cause chain names {@code constraint} (H2 and PostgreSQL both quote constraint names). */
    static boolean mentions(Throwable failure, String constraint) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t.getMessage() != null
                    && t.getMessage().toLowerCase(java.util.Locale.ROOT).contains(constraint)) return true;
        }
        return false;
    }
}
