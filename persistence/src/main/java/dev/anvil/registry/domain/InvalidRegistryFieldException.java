package dev.anvil.registry.domain;

/**
 * A value that breaks one of the registry's rules (name format, version format, checksum format...).
 * {@link #field()} names the offending input so callers can report it back to the client.
 */
public class InvalidRegistryFieldException extends IllegalArgumentException {

    private final String field;

    public InvalidRegistryFieldException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
