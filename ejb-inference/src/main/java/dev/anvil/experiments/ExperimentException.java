package dev.anvil.experiments;

import jakarta.ejb.ApplicationException;

/**
 * An experiment request that cannot be carried out, with the {@link Kind} the API maps to an HTTP status.
 * An application exception: it reaches the caller as thrown and rolls the transaction back, so a refused
 * request writes nothing.
 */
@ApplicationException(rollback = true)
public class ExperimentException extends RuntimeException {

    public enum Kind {
        /** The request itself is wrong: bad field, weights not summing to 100, unknown model version. */
        BAD_REQUEST,
        /** The named experiment does not exist. */
        NOT_FOUND,
        /** The request clashes with state: duplicate name, illegal transition, archived model version. */
        CONFLICT,
        /** Experiments cannot be served yet (schema migrations have not completed). */
        UNAVAILABLE
    }

    private final Kind kind;
    private final String param;
    private final String code;

    public ExperimentException(Kind kind, String message, String param, String code) {
        super(message);
        this.kind = kind;
        this.param = param;
        this.code = code;
    }

    public static ExperimentException badRequest(String message, String param, String code) {
        return new ExperimentException(Kind.BAD_REQUEST, message, param, code);
    }

    public static ExperimentException notFound(String message, String param, String code) {
        return new ExperimentException(Kind.NOT_FOUND, message, param, code);
    }

    public static ExperimentException conflict(String message, String param, String code) {
        return new ExperimentException(Kind.CONFLICT, message, param, code);
    }

    public Kind kind() { return kind; }
    /** The request field at fault, or null. */
    public String param() { return param; }
    /** A stable machine-readable code such as {@code illegal_transition}, or null. */
    public String code() { return code; }
}
