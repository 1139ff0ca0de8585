package dev.anvil.serving.tools;

import dev.anvil.serving.chat.ChatMessage;
import dev.anvil.serving.chat.ChatTemplate;
import dev.anvil.serving.chat.ChatTemplateException;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A conversation with tools as the model's prompt. A template that renders tools ({@link
 * ToolCallSyntax#templateRendersTools()}) gets them as Hugging Face passes them, with the conversation's tool calls and
 * tool results as they are. A template that does not (no tool support, or the fallback transcript) gets what llama.cpp
 * gives such a model: the tools and the answer format described in a system message, and the tool turns rewritten as
 * the JSON the model is asked to write ({@code {"tool_calls": [...]}} in the assistant's turn, {@code {"tool_response":
 * ...}} as a user turn), so that every template, whatever roles it knows, can render them.
 */
public final class ToolPrompt {

    private ToolPrompt() {}

    /** What the generic syntax asks of the model (llama.cpp's generic format, with plain text for an answer). */
    static final String GENERIC_INSTRUCTIONS = """
            To call one or more of these tools, answer with only this JSON object and nothing else:
            {"tool_calls": [{"name": "<the function's name>", "arguments": {<the arguments, as the function's \
            parameters schema describes them>}}]}
            Otherwise, answer the user in plain text.""";

    /**
     * Renders {@code messages} with the tools (null or empty: none) and the generation prompt.
     *
     * @throws ChatTemplateException as {@link ChatTemplate#render} does
     */
    public static String render(
            ChatTemplate template, ToolCallSyntax syntax, List<ChatMessage> messages, List<Map<String, Object>> tools) {
        boolean hasTools = tools != null && !tools.isEmpty();
        if (syntax.templateRendersTools()) return template.render(messages, hasTools ? tools : null, true, Map.of());
        List<ChatMessage> rewritten = rewriteToolTurns(messages);
        if (!hasTools) return template.render(rewritten, null, true, Map.of());
        String description = describe(tools);
        try {
            return template.render(withSystem(rewritten, description), null, true, Map.of());
        } catch (ChatTemplateException e) {
            // Templates without a system role (Gemma's) refuse one: the description then leads the first user turn.
            if (e.reason() != ChatTemplateException.Reason.RAISED || !hasUser(rewritten)) throw e;
            return template.render(inFirstUser(rewritten, description), null, true, Map.of());
        }
    }

    /** The system text that lists the tools and the answer format. */
    static String describe(List<Map<String, Object>> tools) {
        StringBuilder text =
                new StringBuilder("You can call these tools (each function's parameters as JSON Schema):\n");
        for (Map<String, Object> tool : tools)
            text.append(Json.createObjectBuilder(tool).build()).append('\n');
        return text.append('\n').append(GENERIC_INSTRUCTIONS).toString();
    }

    /** Assistant tool calls and tool results as the text the generic syntax uses. */
    static List<ChatMessage> rewriteToolTurns(List<ChatMessage> messages) {
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            if (!m.toolCalls().isEmpty()) {
                JsonArrayBuilder calls = Json.createArrayBuilder();
                for (ChatMessage.ToolCall call : m.toolCalls()) {
                    JsonObjectBuilder c = Json.createObjectBuilder()
                            .add("name", call.name())
                            .add("arguments", Json.createObjectBuilder(call.arguments()));
                    if (call.id() != null) c.add("id", call.id());
                    calls.add(c);
                }
                String json = Json.createObjectBuilder()
                        .add("tool_calls", calls)
                        .build()
                        .toString();
                String content = m.content().isBlank() ? json : m.content() + "\n" + json;
                out.add(new ChatMessage("assistant", content));
            } else if (m.role().equals("tool")) {
                JsonObjectBuilder response = Json.createObjectBuilder();
                if (m.toolCallId() != null) response.add("tool_call_id", m.toolCallId());
                if (m.name() != null) response.add("name", m.name());
                response.add("content", m.content());
                out.add(new ChatMessage(
                        "user",
                        Json.createObjectBuilder()
                                .add("tool_response", response)
                                .build()
                                .toString()));
            } else {
                out.add(m);
            }
        }
        return out;
    }

    private static List<ChatMessage> withSystem(List<ChatMessage> messages, String description) {
        List<ChatMessage> out = new ArrayList<>(messages);
        if (!out.isEmpty() && out.getFirst().role().equals("system")) {
            out.set(0, new ChatMessage("system", out.getFirst().content() + "\n\n" + description));
        } else {
            out.addFirst(new ChatMessage("system", description));
        }
        return out;
    }

    private static boolean hasUser(List<ChatMessage> messages) {
        return messages.stream().anyMatch(m -> m.role().equals("user"));
    }

    private static List<ChatMessage> inFirstUser(List<ChatMessage> messages, String description) {
        List<ChatMessage> out = new ArrayList<>(messages.size());
        boolean done = false;
        String system = null;
        for (ChatMessage m : messages) {
            if (m.role().equals("system") && system == null && !done) {
                system = m.content(); // merged into the first user turn too, as the template has no system role
                continue;
            }
            if (!done && m.role().equals("user")) {
                String lead = system == null ? description : system + "\n\n" + description;
                out.add(new ChatMessage("user", lead + "\n\n" + m.content()));
                done = true;
            } else {
                out.add(m);
            }
        }
        return out;
    }
}
