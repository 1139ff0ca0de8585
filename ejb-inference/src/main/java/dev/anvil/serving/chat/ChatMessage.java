package dev.anvil.serving.chat;

import java.util.Objects;

/**
 * One message of a conversation as chat templates see it.
 *
 * @param role    {@code system}, {@code user} or {@code assistant}
 * @param content the message text (text parts of a multi-part message already joined)
 */
public record ChatMessage(String role, String content) {

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }
}
