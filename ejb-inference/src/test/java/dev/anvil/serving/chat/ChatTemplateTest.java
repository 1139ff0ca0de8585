package dev.anvil.serving.chat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.GgufFile;
import dev.anvil.engine.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Templates written in the style of real model families (Llama 3, ChatML as used by SmolLM2/Qwen, Mistral
 * [INST]), checked against the exact text Hugging Face's apply_chat_template would produce for them.
 */
class ChatTemplateTest {

    /** Llama-3 style: header tokens, trimmed content, eot after each turn, BOS written by the template. */
    static final String LLAMA3_STYLE = """
            {{- bos_token }}
            {%- for message in messages %}
                {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
            {%- endfor %}
            {%- if add_generation_prompt %}
                {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
            {%- endif %}
            """;

    /** ChatML as SmolLM2 uses it (one line, as shipped): a default system turn is injected when the conversation has none. */
    static final String CHATML_STYLE = "{% for message in messages %}"
            + "{% if loop.first and messages[0]['role'] != 'system' %}"
            + "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
            + "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** Mistral style: [INST] blocks, system text folded into the first user turn, strict alternation. */
    static final String MISTRAL_STYLE = """
            {%- if messages[0]['role'] == 'system' %}
                {%- set system_message = messages[0]['content'] %}
                {%- set loop_messages = messages[1:] %}
            {%- else %}
                {%- set loop_messages = messages %}
            {%- endif %}
            {{- bos_token }}
            {%- for message in loop_messages %}
                {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
                    {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
                {%- endif %}
                {%- if message['role'] == 'user' %}
                    {%- if loop.first and system_message is defined %}
                        {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
                    {%- else %}
                        {{- ' [INST] ' + message['content'] + ' [/INST]' }}
                    {%- endif %}
                {%- elif message['role'] == 'assistant' %}
                    {{- ' ' + message['content'] + eos_token }}
                {%- else %}
                    {{- raise_exception('Only user and assistant roles are supported!') }}
                {%- endif %}
            {%- endfor %}
            """;

    static final List<ChatMessage> CONVERSATION = List.of(
            new ChatMessage("system", "You are terse."),
            new ChatMessage("user", "  Hi there \n"),
            new ChatMessage("assistant", "Hello."),
            new ChatMessage("user", "Tell me a story."));

    @Test
    void llama3StyleTemplate() {
        ChatTemplate template = ChatTemplate.of(LLAMA3_STYLE, "<|begin_of_text|>", "<|eot_id|>");
        assertFalse(template.isFallback());
        assertEquals(
                "<|begin_of_text|>"
                        + "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nTell me a story.<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                template.render(CONVERSATION, true));
    }

    @Test
    void slicesTakeAStepAsInPython() {
        ChatTemplate template = ChatTemplate.of(
                "{{ 'abcdef'[::2] }}|{{ 'abcdef'[::-1] }}|{{ 'abcdef'[1::9223372036854775807] }}"
                        + "|{{ 'abcdef'[-1::-9223372036854775807] }}|{{ messages[::-1]|map(attribute='content')|join(',') }}",
                null,
                null);
        assertEquals(
                "ace|fedcba|b|f|b,a",
                template.render(List.of(new ChatMessage("user", "a"), new ChatMessage("assistant", "b")), false));
    }

    @Test
    void generationPromptIsOnlyAddedWhenAsked() {
        ChatTemplate template = ChatTemplate.of(LLAMA3_STYLE, "<|begin_of_text|>", "<|eot_id|>");
        assertEquals(
                "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
                template.render(List.of(new ChatMessage("user", "Hi")), false));
    }

    @Test
    void chatmlStyleTemplateInjectsDefaultSystemTurn() {
        ChatTemplate template = ChatTemplate.of(CHATML_STYLE, "<|im_start|>", "<|im_end|>");
        assertEquals(
                "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                        + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                        + "<|im_start|>assistant\n",
                template.render(List.of(new ChatMessage("user", "What is 2+2?")), true));
        assertEquals(
                "<|im_start|>system\nBe exact.<|im_end|>\n"
                        + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                        + "<|im_start|>assistant\n",
                template.render(
                        List.of(new ChatMessage("system", "Be exact."), new ChatMessage("user", "What is 2+2?")),
                        true));
    }

    @Test
    void mistralStyleTemplateFoldsSystemIntoFirstTurn() {
        ChatTemplate template = ChatTemplate.of(MISTRAL_STYLE, "<s>", "</s>");
        assertEquals(
                "<s> [INST] You are terse.\n\n  Hi there \n [/INST] Hello.</s> [INST] Tell me a story. [/INST]",
                template.render(CONVERSATION, true));
    }

    @Test
    void raiseExceptionRejectsTheConversationWithTheTemplatesMessage() {
        ChatTemplate template = ChatTemplate.of(MISTRAL_STYLE, "<s>", "</s>");
        ChatTemplateException e = assertThrows(
                ChatTemplateException.class,
                () -> template.render(List.of(new ChatMessage("user", "a"), new ChatMessage("user", "b")), true));
        assertTrue(e.raisedByTemplate());
        assertEquals(
                "After the optional system message, conversation roles must alternate user/assistant/user/assistant/...",
                e.getMessage());
    }

    @Test
    void brokenTemplateIsReportedAsTemplateFailure() {
        ChatTemplate template =
                ChatTemplate.of("{% for m in messages %}{{ m.content.nosuchmethod(1, 2) }}{% endfor %}", "", "");
        ChatTemplateException e = assertThrows(
                ChatTemplateException.class, () -> template.render(List.of(new ChatMessage("user", "x")), true));
        assertFalse(e.raisedByTemplate());
        assertTrue(e.getMessage().startsWith("chat template failed: "), e.getMessage());
    }

    @Test
    void fallbackTemplateIsAPlainTranscript() {
        ChatTemplate template = ChatTemplate.of(null, "<s>", "</s>");
        assertTrue(template.isFallback());
        assertEquals(
                "You are terse.\n\nUser:   Hi there \n\nAssistant: Hello.\nUser: Tell me a story.\nAssistant:",
                template.render(CONVERSATION, true));
        assertTrue(ChatTemplate.of("  ", "", "").isFallback());
    }

    @Test
    void strftimeNowFormatsPythonDirectives() {
        ZonedDateTime t = ZonedDateTime.of(2024, 7, 5, 14, 3, 9, 0, ZoneOffset.UTC);
        assertEquals(
                "05 Jul 2024 14:03:09 PM Friday 100%",
                ChatTemplate.Functions.strftime(t, "%d %b %Y %H:%M:%S %p %A 100%%"));
        String rendered = ChatTemplate.of("{{ strftime_now('%Y') }}", "", "").render(List.of(), true);
        assertEquals(String.valueOf(ZonedDateTime.now().getYear()), rendered.substring(0, 4));
    }

    @Test
    void fallbackPromptOfStoriesTokenizesWithOneBos() throws Exception {
        try (GgufFile gguf = GgufFile.open(existing(Path.of("../models/stories260K.gguf")))) {
            Tokenizer tokenizer = Tokenizer.fromGguf(gguf);
            ChatTemplate template = ChatTemplate.forModel(gguf.getString("tokenizer.chat_template", null), tokenizer);
            assertTrue(template.isFallback());
            String rendered = template.render(List.of(new ChatMessage("user", "Tell me a story.")), true);
            assertEquals("User: Tell me a story.\nAssistant:", rendered);
            int[] tokens = ChatTemplate.tokenize(tokenizer, rendered);
            assertEquals(tokenizer.bos(), tokens[0]);
            assertArrayEquals(tokenizer.encode(rendered, true), tokens);
        }
    }

    @Test
    void templateThatWritesBosDoesNotGetASecondOne() throws Exception {
        try (GgufFile gguf =
                GgufFile.open(existing(Path.of("../../shared/reference/tokenizer/ggml-vocab-llama-spm.gguf")))) {
            Tokenizer tokenizer = Tokenizer.fromGguf(gguf);
            ChatTemplate template = ChatTemplate.forModel(MISTRAL_STYLE, tokenizer);
            String rendered = template.render(
                    List.of(
                            new ChatMessage("user", "Hi"),
                            new ChatMessage("assistant", "Yo"),
                            new ChatMessage("user", "Bye")),
                    true);
            assertTrue(rendered.startsWith("<s> [INST] Hi [/INST] Yo</s>"), rendered);
            int[] tokens = ChatTemplate.tokenize(tokenizer, rendered);
            assertEquals(tokenizer.bos(), tokens[0]);
            assertEquals(
                    1, Arrays.stream(tokens).filter(t -> t == tokenizer.bos()).count(), "exactly one BOS");
            // The eos text inside the transcript is a control token, recognised as its id, not spelled out.
            assertEquals(
                    1, Arrays.stream(tokens).filter(t -> t == tokenizer.eos()).count());
        }
    }

    private static Path existing(Path path) {
        Path absolute = path.toAbsolutePath().normalize();
        if (!Files.isRegularFile(absolute)) {
            throw new IllegalStateException("test data not found at " + absolute);
        }
        return absolute;
    }
}
