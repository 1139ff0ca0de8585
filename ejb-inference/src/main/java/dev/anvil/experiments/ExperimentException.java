package dev.anvil.experiments;

import dev.anvil.service.ServiceException;

/** A experiment request that cannot be carried out; see {@link ServiceException} for kinds and transaction behaviour. */
public class ExperimentException extends ServiceException {

    public ExperimentException(Kind kind, String message, String param, String code) {
        super(kind, message, param, code);
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
}
