package dev.anvil.serving.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A chat template is code from a model file and a conversation is data: message text reaches the prompt as written,
 * and a hostile template is stopped by its limits (time, steps, output, collection size, memory, depth) with a
 * {@link ChatTemplateException.Reason#LIMIT} error instead of holding the thread or filling the heap.
 */
class ChatTemplateSafetyTest {

    /** Small limits so that each runaway is stopped quickly and by the limit the test is about. */
    private static final ChatTemplateLimits TIGHT =
            new ChatTemplateLimits(1000, 200_000, 100_000, 5_000, 64L << 20, 64);

    private static final String CHATML = "{% for message in messages %}"
            + "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** Texts that are Jinja syntax; a message holding them must be printed, never run. */
    private static final List<String> JINJA_LOOKALIKES = List.of(
            "{{ 7*7 }}",
            "{% for x in range(3) %}y{% endfor %}",
            "{# a comment #}",
            "{%- raw -%}{{ x }}{%- endraw -%}",
            "{{ raise_exception('boom') }}",
            "{% include 'META-INF/MANIFEST.MF' %}",
            "{{ messages }}{{ bos_token }}",
            "{{",
            "}} {% %} {#");

    private static List<ChatMessage> user(String text) {
        return List.of(new ChatMessage("user", text));
    }

    private static ChatTemplateException limitOf(String source, String content) {
        ChatTemplate template = ChatTemplate.of(source, "<s>", "</s>", TIGHT);
        long t0 = System.nanoTime();
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> template.render(user(content), true));
        long millis = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(ChatTemplateException.Reason.LIMIT, e.reason(), e::getMessage);
        assertTrue(millis < 5_000, "stopped after " + millis + " ms: " + e.getMessage());
        return e;
    }

    @Test
    void messageContentIsPrintedAsWrittenWhateverItHolds() {
        for (String text : JINJA_LOOKALIKES) {
            assertEquals(
                    "User: " + text + "\nAssistant:",
                    ChatTemplate.of(null, "", "").render(user(text), true),
                    text);
            assertEquals(
                    "<|im_start|>user\n" + text + "<|im_end|>\n<|im_start|>assistant\n",
                    ChatTemplate.of(CHATML, "", "").render(user(text), true),
                    text);
        }
        List<ChatMessage> system =
                List.of(new ChatMessage("system", "{{ 7*7 }}"), new ChatMessage("user", "{% if true %}x{% endif %}"));
        assertEquals(
                "{{ 7*7 }}\n\nUser: {% if true %}x{% endif %}\nAssistant:",
                ChatTemplate.of(null, "", "").render(system, true));
    }

    @Test
    void nestedLoopsAreStoppedByTheClock() {
        String nested = "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                + "{% endfor %}{% endfor %}{% endfor %}";
        ChatTemplateLimits slowSteps = new ChatTemplateLimits(300, Long.MAX_VALUE, 100_000, 5_000, 0, 64);
        ChatTemplate template = ChatTemplate.of(nested, "", "", slowSteps);
        long t0 = System.nanoTime();
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> template.render(user("hi"), true));
        long millis = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(ChatTemplateException.Reason.LIMIT, e.reason());
        assertTrue(
                e.getMessage().contains("longer than 300 ms") && e.getMessage().contains(ChatTemplateLimits.TIMEOUT_MS),
                e.getMessage());
        assertTrue(millis < 3_000, "the render ran " + millis + " ms");
    }

    @Test
    void loopsAreStoppedByTheStepCountIndependentlyOfMachineSpeed() {
        String nested = "{% for a in range(1000) %}{% for b in range(1000) %}{{ b }}{% endfor %}{% endfor %}";
        ChatTemplateLimits fewSteps = new ChatTemplateLimits(60_000, 10_000, 10_000_000, 5_000, 0, 64);
        ChatTemplateException e = assertThrows(
                ChatTemplateException.class,
                () -> ChatTemplate.of(nested, "", "", fewSteps).render(user("hi"), true));
        assertEquals(ChatTemplateException.Reason.LIMIT, e.reason());
        assertTrue(
                e.getMessage().contains("more than 10000 steps")
                        && e.getMessage().contains(ChatTemplateLimits.MAX_STEPS),
                e.getMessage());
    }

    @Test
    void stringDoublingStopsAtTheOutputLimit() {
        ChatTemplateException e = limitOf(
                "{% set ns = namespace(s=messages[0]['content']) %}"
                        + "{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
                "double me");
        assertTrue(e.getMessage().contains("100000") || e.getMessage().contains("limit"), e.getMessage());
    }

    @Test
    void listDoublingStopsAtTheCollectionLimit() {
        ChatTemplateException e = limitOf(
                "{% set ns = namespace(l=[1]) %}"
                        + "{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}",
                "x");
        assertTrue(
                e.getMessage().contains("5000 elements")
                        && e.getMessage().contains(ChatTemplateLimits.MAX_COLLECTION_SIZE),
                e.getMessage());
    }

    @Test
    void sharedNestingThatWouldPrintExponentiallyIsStopped() {
        // Each step only pairs the previous list with itself (tiny in memory); printing it would write 2^60 items.
        ChatTemplateException e = limitOf(
                "{% set ns = namespace(l=['x']) %}"
                        + "{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
                "x");
        assertTrue(
                e.getMessage().contains(ChatTemplateLimits.MAX_COLLECTION_SIZE)
                        || e.getMessage().contains(ChatTemplateLimits.MAX_DEPTH),
                e.getMessage());
    }

    @Test
    void amplifyingFilterArgumentsAreRefusedBeforeTheCall() {
        assertTrue(limitOf("{{ messages[0]['content']|center(2000000000) }}", "x")
                .getMessage()
                .contains("'center'"));
        assertTrue(limitOf("{{ messages[0]['content']|indent(90000) }}", "a\nb\nc\nd")
                .getMessage()
                .contains("'indent'"));
        assertTrue(limitOf("{{ messages[0]['content']|replace('a', messages[0]['content']) }}", "a".repeat(50_000))
                .getMessage()
                .contains("'replace'"));
        assertTrue(limitOf("{{ '%0999999999d'|format(1) }}", "x").getMessage().contains("'format'"));
        assertTrue(limitOf("{{ messages[0]['content'].replace('a', 'aaaaaaaaaa') }}", "a".repeat(20_000))
                .getMessage()
                .contains("str.replace"));
        assertTrue(limitOf("{{ [1]|batch(2000000000, 0) }}", "x").getMessage().contains("'batch'"));
    }

    @Test
    void rangeRefusesInsteadOfTruncating() {
        ChatTemplateException e = limitOf("{% for i in range(6000) %}{% endfor %}", "x");
        assertTrue(e.getMessage().contains("range() of 6000 values"), e.getMessage());
        assertEquals(
                "0,1,2|5,3,1|",
                ChatTemplate.of(
                                "{{ range(3)|join(',') }}|{{ range(5, 0, -2)|join(',') }}|{{ range(2, 2)|join(',') }}",
                                "",
                                "")
                        .render(user("x"), true));
    }

    @Test
    void deepNestingIsStopped() {
        String deep = "{% if true %}".repeat(80) + "x" + "{% endif %}".repeat(80);
        ChatTemplateException e = limitOf(deep, "x");
        assertTrue(
                e.getMessage().contains("nest deeper than 64") && e.getMessage().contains(ChatTemplateLimits.MAX_DEPTH),
                e.getMessage());
    }

    @Test
    void memoryChurnIsStoppedByTheAllocationLimit() {
        ChatTemplateLimits smallHeap = new ChatTemplateLimits(60_000, Long.MAX_VALUE, 1_000_000, 100_000, 4L << 20, 64);
        String churn = "{% for i in range(100000) %}{% set x = messages[0]['content'] ~ i %}{% endfor %}";
        ChatTemplateException e = assertThrows(
                ChatTemplateException.class,
                () -> ChatTemplate.of(churn, "", "", smallHeap).render(user("y".repeat(1000)), true));
        assertEquals(ChatTemplateException.Reason.LIMIT, e.reason());
        assertTrue(e.getMessage().contains(ChatTemplateLimits.MAX_ALLOCATED_BYTES), e.getMessage());
    }

    @Test
    void stringsHavePythonMethodsAndNoJavaOnes() {
        ChatTemplate template = ChatTemplate.of(
                "{% set c = messages[0]['content'] %}"
                        + "{{ c.split('.')|join('|') }}/{{ c.split('</think>')[-1].strip() }}/{{ c.rsplit('.', 1)|join('|') }}/"
                        + "{{ '  a  b '.split()|join('|') }}/{{ 'xxhixx'.strip('x') }}/{{ c.startswith(('q', 'a.')) }}/"
                        + "{{ c.endswith('z') }}/{{ 'ab'.upper() }}{{ 'CD'.lower() }}/{{ 'a-a-a'.replace('-', '+', 1) }}/"
                        + "{{ ', '.join(['x', 'y']) }}/{{ 'hello world'.title() }}/{{ c.count('.') }}/{{ c.find('b') }}",
                "", "");
        assertEquals(
                "a|b|c</think> d /d/a.b|c</think> d /a|b/hi/True/False/ABcd/a+a-a/x, y/Hello World/2/2",
                template.render(user("a.b.c</think> d "), true)
                        .replace("true", "True")
                        .replace("false", "False"));
        for (String java : List.of(
                "{{ 'ab'.repeat(3) }}",
                "{{ 'a'.matches('(a+)+b') }}",
                "{{ 'ab'.indent(3) }}",
                "{{ 'ab'.getBytes() }}",
                "{{ 'x'.formatted(1) }}")) {
            ChatTemplateException e = assertThrows(
                    ChatTemplateException.class,
                    () -> ChatTemplate.of(java, "", "").render(user("x"), true),
                    java);
            assertEquals(ChatTemplateException.Reason.BROKEN, e.reason(), java);
            assertTrue(e.getMessage().contains("no method"), e.getMessage());
        }
    }

    @Test
    void templatesCannotReadFilesOrRenderText() {
        for (String source : List.of(
                "{% include 'META-INF/MANIFEST.MF' %}",
                "{% import 'x.j2' as x %}",
                "{% extends 'base.j2' %}",
                "{% from 'x.j2' import y %}",
                "{{ messages[0]['content']|render }}")) {
            ChatTemplateException e = assertThrows(
                    ChatTemplateException.class,
                    () -> ChatTemplate.of(source, "", "").render(user("{{ 7*7 }}"), true),
                    source);
            assertEquals(ChatTemplateException.Reason.BROKEN, e.reason(), source);
        }
    }

    @Test
    void verifyAcceptsWorkingTemplates() {
        ChatTemplate.of(null, "<s>", "</s>").verify();
        ChatTemplate.of(CHATML, "", "").verify();
        ChatTemplate.of(ChatTemplateTest.LLAMA3_STYLE, "<|begin_of_text|>", "<|eot_id|>")
                .verify();
        ChatTemplate.of(ChatTemplateTest.MISTRAL_STYLE, "<s>", "</s>").verify();
        // Refusing a system turn on purpose is a template's right (Gemma-style).
        ChatTemplate.of(
                        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
                                + "{% endif %}{{ m['content'] }}{% endfor %}",
                        "", "")
                .verify();
    }

    @Test
    void verifyRefusesBrokenTemplates() {
        for (String broken : List.of(
                "{% for m in messages %}{{ m['content'] }}",
                "{{ messages[0]['content'] }",
                "{% if %}x{% endif %}",
                "{% endfor %}",
                "{{ 1 + }}",
                "{% frobnicate %}",
                "{{ nosuchfunction(1) }}",
                "{{ raise_exception('this template is not for chat') }}",
                "{{ messages[0]['content'].nosuch() }}",
                "{% include 'other.j2' %}")) {
            ChatTemplateException e = assertThrows(
                    ChatTemplateException.class,
                    () -> ChatTemplate.of(broken, "", "").verify(),
                    broken);
            assertEquals(ChatTemplateException.Reason.BROKEN, e.reason(), broken);
            assertTrue(e.getMessage().startsWith("the chat template cannot be used: "), e.getMessage());
        }
        ChatTemplateException e = assertThrows(
                ChatTemplateException.class,
                () -> ChatTemplate.of(
                                "{% for a in range(1000) %}{% for b in range(1000) %}{{ a }}{% endfor %}{% endfor %}",
                                "", "", TIGHT)
                        .verify());
        assertEquals(ChatTemplateException.Reason.LIMIT, e.reason());
        assertTrue(e.getMessage().contains("exceeded a limit"), e.getMessage());
    }

    @Test
    void aFailedRenderLeavesTheThreadAndEngineClean() {
        limitOf("{% for a in range(1000) %}{% for b in range(1000) %}{{ a }}{% endfor %}{% endfor %}", "x");
        assertEquals(null, RenderBudget.current());
        assertEquals(
                "User: ok\nAssistant:", ChatTemplate.of(null, "", "", TIGHT).render(user("ok"), true));
    }
}
