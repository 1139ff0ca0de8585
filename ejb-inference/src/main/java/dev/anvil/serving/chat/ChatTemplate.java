package dev.anvil.serving.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.anvil.engine.Tokenizer;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Renders a conversation into a prompt with a model's Jinja chat template (GGUF {@code tokenizer.chat_template}),
 * the way Hugging Face {@code apply_chat_template} does: the template sees {@code messages} (maps with
 * {@code role} and {@code content}), {@code add_generation_prompt}, {@code bos_token}, {@code eos_token} and the
 * functions {@code raise_exception(message)} and {@code strftime_now(format)}, in an environment with
 * {@code trim_blocks} and {@code lstrip_blocks} on. Models without a template get {@link #FALLBACK_SOURCE}.
 *
 * <p>Instances are immutable and thread-safe; the Jinja engine is shared.
 */
public final class ChatTemplate {

    /**
     * The template used when a model has none (e.g. stories260K). A plain "User:/Assistant:" transcript rather
     * than ChatML: it needs no special tokens, so it tokenizes sensibly with any vocabulary, including tiny
     * ones where {@code <|im_start|>} would shatter into many pieces.
     */
    public static final String FALLBACK_SOURCE = """
            {% for message in messages %}\
            {% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}\
            {% elif message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n' }}\
            {% else %}{{ 'Assistant: ' + message['content'] + '\\n' }}\
            {% endif %}\
            {% endfor %}\
            {% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}""";

    /** Upper bound on rendered output: a template loop gone wrong must not exhaust the heap. */
    private static final long MAX_OUTPUT_CHARS = 32L * 1024 * 1024;

    private static final Jinjava JINJA = createEngine();

    private final String source;
    private final boolean fallback;
    private final String bosToken;
    private final String eosToken;

    private ChatTemplate(String source, boolean fallback, String bosToken, String eosToken) {
        this.source = source;
        this.fallback = fallback;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
    }

    /**
     * @param source   the Jinja template, or null/blank for {@link #FALLBACK_SOURCE}
     * @param bosToken text of the BOS token ({@code ""} if the model has none)
     * @param eosToken text of the EOS token ({@code ""} if the model has none)
     */
    public static ChatTemplate of(String source, String bosToken, String eosToken) {
        boolean missing = source == null || source.isBlank();
        return new ChatTemplate(missing ? FALLBACK_SOURCE : source, missing,
                Objects.requireNonNullElse(bosToken, ""), Objects.requireNonNullElse(eosToken, ""));
    }

    /** The template of a model, with its tokenizer's BOS/EOS texts. */
    public static ChatTemplate forModel(String source, Tokenizer tokenizer) {
        String bos = tokenizer.bos() >= 0 ? tokenizer.tokenText(tokenizer.bos()) : "";
        String eos = tokenizer.eos() >= 0 ? tokenizer.tokenText(tokenizer.eos()) : "";
        return of(source, bos, eos);
    }

    public String source() {
        return source;
    }

    /** True when the model has no template and {@link #FALLBACK_SOURCE} is used. */
    public boolean isFallback() {
        return fallback;
    }

    /**
     * Renders {@code messages}; with {@code addGenerationPrompt} the output ends with the cue for the assistant's
     * turn.
     *
     * @throws ChatTemplateException if the template rejects the conversation or fails
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> maps = new ArrayList<>(messages.size());
        for (ChatMessage message : messages) {
            // LinkedHashMap: templates may iterate a message's items; keep role before content like Python dicts.
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", message.role());
            map.put("content", message.content());
            maps.add(map);
        }
        Map<String, Object> context = new HashMap<>();
        context.put("messages", maps);
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);

        RenderResult result = JINJA.renderForResult(source, context);
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() != TemplateError.ErrorType.FATAL) {
                continue; // warnings (e.g. an unknown filter argument) do not stop Python's Jinja either
            }
            TemplateRaised raised = findRaised(error.getException());
            if (raised != null) {
                throw new ChatTemplateException(raised.getMessage(), true, raised);
            }
            String where = error.getLineno() > 0 ? " (template line " + error.getLineno() + ")" : "";
            throw new ChatTemplateException("chat template failed: " + error.getMessage() + where, false,
                    error.getException());
        }
        return result.getOutput();
    }

    /**
     * Tokenizes a rendered prompt: special-token texts ({@code <|im_start|>}, {@code [INST]}...) become their ids,
     * and BOS is prepended when the model wants one unless the template already wrote it (no double BOS).
     */
    public static int[] tokenize(Tokenizer tokenizer, String rendered) {
        boolean addBos = tokenizer.addBosByDefault() && tokenizer.bos() >= 0
                && !rendered.startsWith(tokenizer.tokenText(tokenizer.bos()));
        return tokenizer.encodeWithSpecials(rendered, addBos);
    }

    private static TemplateRaised findRaised(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof TemplateRaised raised) {
                return raised;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }

    private static Jinjava createEngine() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withFailOnUnknownTokens(false)
                .withMaxOutputSize(MAX_OUTPUT_CHARS)
                // Python Jinja semantics that jinjava only has behind "legacy override" switches: {{- and -}}
                // trimming on expressions, strict whitespace control, Python operator precedence, dict literals
                // with evaluated keys, iteration over dict keys, backslash escapes only inside string literals.
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withHandleBackslashInQuotesOnly(true)
                        .withAllowAdjacentTextNodes(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
        Jinjava jinja = new Jinjava(config);
        jinja.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", Functions.class, "raiseException", String.class));
        jinja.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "strftime_now", Functions.class, "strftimeNow", String.class));
        return jinja;
    }

    /** Thrown by {@code raise_exception}; recognised in jinjava's error chain. */
    static final class TemplateRaised extends RuntimeException {
        TemplateRaised(String message) {
            super(message);
        }
    }

    /** Functions templates call. Public because jinjava invokes them reflectively. */
    public static final class Functions {
        private Functions() {
        }

        public static Object raiseException(String message) {
            throw new TemplateRaised(message == null ? "chat template raised an exception" : message);
        }

        /** Python's {@code datetime.now().strftime(format)} for the directives chat templates use. */
        public static String strftimeNow(String format) {
            return strftime(ZonedDateTime.now(), format);
        }

        static String strftime(ZonedDateTime time, String format) {
            StringBuilder out = new StringBuilder();
            for (int i = 0; i < format.length(); i++) {
                char c = format.charAt(i);
                if (c != '%' || i + 1 == format.length()) {
                    out.append(c);
                    continue;
                }
                char directive = format.charAt(++i);
                switch (directive) {
                    case 'd' -> out.append(String.format("%02d", time.getDayOfMonth()));
                    case 'm' -> out.append(String.format("%02d", time.getMonthValue()));
                    case 'Y' -> out.append(time.getYear());
                    case 'y' -> out.append(String.format("%02d", time.getYear() % 100));
                    case 'H' -> out.append(String.format("%02d", time.getHour()));
                    case 'I' -> out.append(String.format("%02d", (time.getHour() + 11) % 12 + 1));
                    case 'M' -> out.append(String.format("%02d", time.getMinute()));
                    case 'S' -> out.append(String.format("%02d", time.getSecond()));
                    case 'p' -> out.append(time.getHour() < 12 ? "AM" : "PM");
                    case 'b' -> out.append(time.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                    case 'B' -> out.append(time.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                    case 'a' -> out.append(time.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                    case 'A' -> out.append(time.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                    case 'j' -> out.append(String.format("%03d", time.getDayOfYear()));
                    case 'Z' -> out.append(time.format(DateTimeFormatter.ofPattern("zzz", Locale.ENGLISH)));
                    case '%' -> out.append('%');
                    default -> out.append('%').append(directive); // Python leaves unknown directives as written
                }
            }
            return out.toString();
        }
    }
}
