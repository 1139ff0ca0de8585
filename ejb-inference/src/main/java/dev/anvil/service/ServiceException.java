package dev.anvil.service;

import jakarta.ejb.ApplicationException;

/**
 * A request a service refuses, with the {@link Kind} of refusal the web tier maps to an HTTP status. An
 * application exception (inherited by each capability's subclass): it reaches the caller as thrown, not
 * wrapped in an EJBException, and rolls the transaction back, so a refused request never leaves partial writes.
 */
@ApplicationException(rollback = true)
public abstract class ServiceException extends RuntimeException {

    public enum Kind {
        /** The request itself is wrong: a bad field, a missing or unreadable file, weights not summing to 100. */
        BAD_REQUEST,
        /** The named thing does not exist. */
        NOT_FOUND,
        /** The request clashes with current state: a duplicate, an illegal transition, a concurrent change. */
        CONFLICT,
        /** The service cannot serve requests yet (schema migrations have not completed). */
        UNAVAILABLE
    }

    private final Kind kind;
    private final String param;
    private final String code;

    protected ServiceException(Kind kind, String message, String param, String code) {
        super(message);
        this.kind = kind;
        this.param = param;
        this.code = code;
    }

    public Kind kind() {
        return kind;
    }
    /** The request field at fault, or null. */
    public String param() {
        return param;
    }
    /** A stable machine-readable code such as {@code version_exists}, or null. */
    public String code() {
        return code;
    }
}
