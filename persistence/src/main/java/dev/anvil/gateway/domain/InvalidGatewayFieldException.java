package dev.anvil.gateway.domain;

/** A tenant or API key field value the gateway's rules reject; names the field ({@link #field()}). */
public class InvalidGatewayFieldException extends IllegalArgumentException {

    private final String field;

    public InvalidGatewayFieldException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
