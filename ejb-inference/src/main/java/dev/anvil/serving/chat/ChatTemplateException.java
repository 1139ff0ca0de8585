package dev.anvil.serving.chat;

/**
 * A chat template could not render a conversation. {@link #raisedByTemplate()} is true when the template
 * itself rejected the conversation through {@code raise_exception(...)} (e.g. "roles must alternate"): the
 * client's input is at fault. Otherwise the template is broken or uses a construct the renderer lacks.
 */
public class ChatTemplateException extends RuntimeException {

    private final boolean raisedByTemplate;

    public ChatTemplateException(String message, boolean raisedByTemplate, Throwable cause) {
        super(message, cause);
        this.raisedByTemplate = raisedByTemplate;
    }

    public boolean raisedByTemplate() {
        return raisedByTemplate;
    }
}
