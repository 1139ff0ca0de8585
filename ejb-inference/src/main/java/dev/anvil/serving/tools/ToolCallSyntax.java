package dev.anvil.serving.tools;

import dev.anvil.serving.chat.ChatTemplate;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How a model family writes a tool call, recognised from its chat template the way llama.cpp's chat-format detection
 * does (the template renders earlier calls in the syntax the model was trained to produce, so the markers it writes
 * are the ones to look for):
 *
 * <ul>
 *   <li>{@link #HERMES}: Hermes 2/3 Pro, Qwen 2.5, Qwen 3: {@code <tool_call>{"name": ..., "arguments": {...}}</tool_call>},
 *       one block per call, text may come before;</li>
 *   <li>{@link #LLAMA3}: Llama 3.1/3.2/3.3 JSON tool calls: the answer is {@code {"name": ..., "parameters": {...}}}
 *       (after {@code <|python_tag|>} where that token's text is kept);</li>
 *   <li>{@link #MISTRAL}: Mistral Nemo and later: {@code [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]} (the
 *       marker is a control token, decoded to nothing, so an answer that starts with the array is read the same);</li>
 *   <li>{@link #GENERIC}: a template that renders no tools (or in a syntax not known here). The tools and the answer
 *       format are described in a system message ({@link ToolPrompt}) and a call is the whole answer as JSON:
 *       {@code {"tool_calls": [{"name": ..., "arguments": {...}}]}}.</li>
 * </ul>
 */
public enum ToolCallSyntax {
    HERMES(List.of("<tool_call>"), "", "arguments"),
    LLAMA3(List.of("<|python_tag|>"), "{", "parameters"),
    MISTRAL(List.of("[TOOL_CALLS]"), "[", "arguments"),
    GENERIC(List.of(), "{", "arguments");

    /** Markers that open calls wherever they appear in the answer. */
    final List<String> markers;
    /** A character that opens calls when it is the first non-blank one of the answer ("" for none). */
    final String leading;
    /** The key the family writes the arguments under (both {@code arguments} and {@code parameters} are read). */
    public final String argumentsKey;

    ToolCallSyntax(List<String> markers, String leading, String argumentsKey) {
        this.markers = markers;
        this.leading = leading;
        this.argumentsKey = argumentsKey;
    }

    /** The syntax of the model whose chat template this is; a model without a template is {@link #GENERIC}. */
    public static ToolCallSyntax of(ChatTemplate template) {
        if (template == null || template.isFallback()) return GENERIC;
        return detect(template.source());
    }

    /** The syntax a template's source shows (llama.cpp looks for the same markers, in this order). */
    public static ToolCallSyntax detect(String source) {
        if (source == null) return GENERIC;
        if (source.contains("<tool_call>")) return HERMES;
        if (source.contains("[TOOL_CALLS]")) return MISTRAL;
        if (source.contains("<|start_header_id|>") && (source.contains("ipython") || source.contains("<|python_tag|>")))
            return LLAMA3;
        return GENERIC;
    }

    /** Whether the template itself renders the tools and the tool turns (else {@link ToolPrompt} describes them). */
    public boolean templateRendersTools() {
        return this != GENERIC;
    }

    private static final String ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    /**
     * A fresh call id: {@code call_} and 24 random alphanumerics as OpenAI's look; for Mistral 9 alphanumerics, the only
     * ids its template accepts back in the next turn (it raises on any other length).
     */
    public String newCallId() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        StringBuilder id = new StringBuilder(this == MISTRAL ? "" : "call_");
        for (int i = 0, n = this == MISTRAL ? 9 : 24; i < n; i++)
            id.append(ALPHANUMERIC.charAt(r.nextInt(ALPHANUMERIC.length())));
        return id.toString();
    }
}
