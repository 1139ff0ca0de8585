package dev.anvil.registry;

import dev.anvil.service.ServiceException;

/** A registry request that cannot be carried out; see {@link ServiceException} for kinds and transaction behaviour. */
public class RegistryException extends ServiceException {

    public RegistryException(Kind kind, String message, String param, String code) {
        super(kind, message, param, code);
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
}
