package dev.anvil.serving.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The published chat templates of real model families (shared/reference/chat-templates), each case rendered through
 * Anvil exactly as Hugging Face's {@code apply_chat_template} rendered it (the README there says how): same bytes,
 * tool definitions and tool messages included, or the same refusal where the template raises.
 */
class ChatTemplateConformanceTest {

    static final Path REFERENCE = Path.of("../../shared/reference/chat-templates");
    private static final ObjectMapper JSON = new ObjectMapper();

    static Stream<Arguments> cases() throws IOException {
        // A missing reference must fail, not pass with no cases.
        assertTrue(Files.isDirectory(REFERENCE), "missing reference directory " + REFERENCE.toAbsolutePath());
        List<Arguments> cases = new ArrayList<>();
        try (Stream<Path> files = Files.list(REFERENCE)) {
            for (Path file : files.filter(p -> p.getFileName().toString().endsWith(".cases.jsonl"))
                    .sorted()
                    .toList()) {
                String name = file.getFileName().toString().replace(".cases.jsonl", "");
                String template = Files.readString(REFERENCE.resolve(name + ".jinja"), StandardCharsets.UTF_8);
                List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
                for (int i = 0; i < lines.size(); i++) {
                    if (lines.get(i).isBlank()) continue;
                    Map<String, Object> c = JSON.readValue(lines.get(i), new TypeReference<>() {});
                    cases.add(Arguments.of(name + "#" + i + " " + c.get("description"), template, c));
                }
            }
        }
        assertFalse(cases.isEmpty(), "no *.cases.jsonl in " + REFERENCE.toAbsolutePath());
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void rendersLikeHuggingFace(String id, String source, Map<String, Object> c) {
        ChatTemplate template = ChatTemplate.of(source, (String) c.get("bos_token"), (String) c.get("eos_token"));
        if (c.get("fixed_date") instanceof String date) {
            LocalDate day = LocalDate.parse(date, DateTimeFormatter.ofPattern("d MMM yyyy", Locale.ENGLISH));
            template = template.withClock(Clock.fixed(day.atTime(12, 0).toInstant(ZoneOffset.UTC), ZoneOffset.UTC));
        }
        List<ChatMessage> messages = messages(c.get("messages"));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> tools = (List<Map<String, Object>>) c.get("tools");
        @SuppressWarnings("unchecked")
        Map<String, Object> extra = (Map<String, Object>) c.getOrDefault("extra_context", Map.of());
        boolean addGenerationPrompt = (Boolean) c.get("add_generation_prompt");
        ChatTemplate t = template;
        if (c.get("expected") == null) {
            ChatTemplateException e = assertThrows(
                    ChatTemplateException.class, () -> t.render(messages, tools, addGenerationPrompt, extra));
            assertTrue(e.raisedByTemplate(), e.getMessage());
            assertEquals(c.get("expected_error"), e.getMessage());
        } else {
            assertEquals(c.get("expected"), t.render(messages, tools, addGenerationPrompt, extra));
        }
    }

    /** The case's OpenAI-style messages as the serving code passes them. */
    @SuppressWarnings("unchecked")
    static List<ChatMessage> messages(Object json) {
        List<ChatMessage> messages = new ArrayList<>();
        for (Object o : (List<Object>) json) {
            Map<String, Object> m = (Map<String, Object>) o;
            List<ChatMessage.ToolCall> calls = new ArrayList<>();
            for (Object call : (List<Object>) m.getOrDefault("tool_calls", List.of())) {
                Map<String, Object> entry = (Map<String, Object>) call;
                Map<String, Object> function = (Map<String, Object>) entry.get("function");
                calls.add(new ChatMessage.ToolCall(
                        (String) entry.get("id"), (String) function.get("name"), (Map<String, Object>)
                                function.get("arguments")));
            }
            messages.add(new ChatMessage(
                    (String) m.get("role"), (String) m.get("content"), calls, (String) m.get("tool_call_id"), (String)
                            m.get("name")));
        }
        return messages;
    }
}
