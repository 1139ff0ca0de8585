package dev.anvil.gateway;

import dev.anvil.service.ServiceException;

/** A gateway administration request refused (unknown tenant or key, duplicate name, invalid field). */
public class GatewayException extends ServiceException {

    public GatewayException(Kind kind, String message, String param, String code) {
        super(kind, message, param, code);
    }
}
