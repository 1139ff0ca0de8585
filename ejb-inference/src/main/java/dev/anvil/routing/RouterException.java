package dev.anvil.routing;

import dev.anvil.service.ServiceException;

/** A router definition refused (invalid rules, unknown model, a cycle) or a router that does not exist. */
public class RouterException extends ServiceException {

    public RouterException(Kind kind, String message, String param, String code) {
        super(kind, message, param, code);
    }
}
