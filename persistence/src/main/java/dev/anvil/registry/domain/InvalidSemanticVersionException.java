package dev.anvil.registry.domain;

/** A version string that is not a Semantic Versioning 2.0.0 version. */
public class InvalidSemanticVersionException extends InvalidRegistryFieldException {

    public InvalidSemanticVersionException(String message) {
        super("version", message);
    }
}
