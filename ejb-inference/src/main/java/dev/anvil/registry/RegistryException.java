package dev.anvil.registry;

import jakarta.ejb.ApplicationException;

/**
 * A registry request that cannot be carried out, with the {@link Kind} of failure the API maps to an HTTP
 * status. An application exception: it reaches the caller as thrown (not wrapped in an EJBException) and
 * rolls the transaction back, so a refused request never leaves partial writes.
 */
@ApplicationException(rollback = true)
public class RegistryException extends RuntimeException {

    public enum Kind {
        /** The request itself is wrong: bad field, missing or unreadable file, checksum mismatch. */
        BAD_REQUEST,
        /** The named model or version does not exist. */
        NOT_FOUND,
        /** The request clashes with the registry's state: duplicate version, illegal transition, concurrent change. */
        CONFLICT,
        /** The registry cannot serve requests yet (schema migrations have not completed). */
        UNAVAILABLE
    }

    private final Kind kind;
    private final String param;
    private final String code;

    public RegistryException(Kind kind, String message, String param, String code) {
        super(message);
        this.kind = kind;
        this.param = param;
        this.code = code;
    }

    public static RegistryException badRequest(String message, String param, String code) {
        return new RegistryException(Kind.BAD_REQUEST, message, param, code);
    }

    public static RegistryException notFound(String message, String param, String code) {
        return new RegistryException(Kind.NOT_FOUND, message, param, code);
    }

    public static RegistryException conflict(String message, String param, String code) {
        return new RegistryException(Kind.CONFLICT, message, param, code);
    }

    public Kind kind() { return kind; }
    /** The request field at fault, or null. */
    public String param() { return param; }
    /** A stable machine-readable code such as {@code version_exists}, or null. */
    public String code() { return code; }
}
