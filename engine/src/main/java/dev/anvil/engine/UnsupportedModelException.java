package dev.anvil.engine;

/** A model file the engine cannot load: bad format, unsupported tensor type or architecture. Raised at load time. */
public class UnsupportedModelException extends RuntimeException {
    public UnsupportedModelException(String message) {
        super(message);
    }

    public UnsupportedModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
