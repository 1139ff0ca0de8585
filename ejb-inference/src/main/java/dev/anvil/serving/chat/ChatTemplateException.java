package dev.anvil.serving.chat;

/**
 * A chat template could not render a conversation; {@link #reason()} says whose fault that is.
 */
public class ChatTemplateException extends RuntimeException {

    public enum Reason {
        /**
         * The template rejected the conversation through {@code raise_exception(...)} (e.g. "roles must alternate"):
         * the client's input is at fault.
         */
        RAISED,
        /** The template is broken (syntax error, a failing expression) or uses a construct the renderer lacks. */
        BROKEN,
        /** The render crossed one of its {@link ChatTemplateLimits} (time, steps, output, collection size, memory, depth). */
        LIMIT
    }

    private final Reason reason;

    public ChatTemplateException(String message, Reason reason, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }

    /** The message without the "chat template failed/stopped: " that begins render errors, for callers that say it their way. */
    public String detail() {
        String m = getMessage();
        for (String prefix : new String[] {ChatTemplate.FAILED, ChatTemplate.STOPPED}) {
            if (m != null && m.startsWith(prefix)) return m.substring(prefix.length());
        }
        return m;
    }

    /** True when the template itself rejected the conversation ({@link Reason#RAISED}). */
    public boolean raisedByTemplate() {
        return reason == Reason.RAISED;
    }
}
