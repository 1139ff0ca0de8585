package dev.anvil.tools;

/** The work of a command failed for a reason it can name (a server that refused, missing credentials): exit status 1. */
public final class CommandFailedException extends RuntimeException {
    public CommandFailedException(String message) {
        super(message);
    }
}
