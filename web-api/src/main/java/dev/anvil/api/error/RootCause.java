package dev.anvil.api.error;

/** Helpers for reporting the innermost cause of an exception chain without exposing stack traces. */
final class RootCause {

    private RootCause() {}

    static Throwable of(Throwable throwable) {
        Throwable current = throwable;
        // Bounded walk: some libraries build cause cycles.
        for (int depth = 0; depth < 32 && current.getCause() != null && current.getCause() != current; depth++) {
            current = current.getCause();
        }
        return current;
    }

    /** The innermost non-blank message, trimmed to keep error bodies short. */
    static String describe(Throwable throwable) {
        String message = null;
        Throwable current = throwable;
        for (int depth = 0; depth < 32 && current != null; depth++) {
            if (current.getMessage() != null && !current.getMessage().isBlank()) {
                message = current.getMessage();
            }
            current = current.getCause() == current ? null : current.getCause();
        }
        if (message == null) {
            return "unparseable input";
        }
        message = message.replaceAll("\\s+", " ").strip();
        return message.length() > 300 ? message.substring(0, 300) + "..." : message;
    }

    static <T extends Throwable> T find(Throwable throwable, Class<T> type) {
        Throwable current = throwable;
        for (int depth = 0; depth < 32 && current != null; depth++) {
            if (type.isInstance(current)) {
                return type.cast(current);
            }
            current = current.getCause() == current ? null : current.getCause();
        }
        return null;
    }
}
