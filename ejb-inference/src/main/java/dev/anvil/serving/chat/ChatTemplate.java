package dev.anvil.serving.chat;

import com.hubspot.jinjava.interpret.CollectionTooBigException;
import com.hubspot.jinjava.interpret.OutputTooBigException;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import dev.anvil.engine.Tokenizer;
import java.time.Clock;
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
 * <p>The template is code from a model file; the conversation is data. Message contents reach the output exactly as
 * written, whatever they contain ({@code {{ 7*7 }}}, {@code {% for %}}, {@code {# #}}), and a render runs under
 * {@link ChatTemplateLimits} (see {@link TemplateEngine} and {@link RenderBudget}). {@link #verify()} is how model
 * registration and model loading refuse a template that cannot render a simple conversation.
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

    /**
     * Conversations every template must handle at load: the first must render; the others may be refused by the
     * template's own {@code raise_exception} (many templates reject a system turn, or check roles), but must not fail
     * any other way.
     */
    static final List<List<ChatMessage>> PROBES = List.of(
            List.of(new ChatMessage("user", "Hello")),
            List.of(new ChatMessage("system", "You are a helpful assistant."), new ChatMessage("user", "Hello")),
            List.of(
                    new ChatMessage("user", "Hello"),
                    new ChatMessage("assistant", "Hi, how can I help?"),
                    new ChatMessage("user", "Tell me a story.")));

    /** How render errors begin: a broken template, and one stopped by its limits. */
    static final String FAILED = "chat template failed: ", STOPPED = "chat template stopped: ";

    private final String source;
    private final boolean fallback;
    private final String bosToken;
    private final String eosToken;
    private final ChatTemplateLimits limits;
    private final Clock clock;
    /**
     * Whether the template reads {@code loop.previtem}/{@code loop.nextitem}: only then does a render keep each for
     * loop's sequence for them (evaluating the loop's expression a second time).
     */
    private final boolean readsLoopNeighbours;

    /** The clock of the render running on this thread, read by {@code strftime_now}. */
    private static final ThreadLocal<Clock> RENDER_CLOCK = new ThreadLocal<>();

    private ChatTemplate(
            String source, boolean fallback, String bosToken, String eosToken, ChatTemplateLimits limits, Clock clock) {
        this.source = source;
        this.fallback = fallback;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.limits = limits;
        this.clock = clock;
        this.readsLoopNeighbours = source.contains("previtem") || source.contains("nextitem");
    }

    /**
     * This template with {@code strftime_now} reading {@code clock} instead of the system clock (reproducible
     * renders: tests, reference renderings made with a fixed date).
     */
    public ChatTemplate withClock(Clock clock) {
        return new ChatTemplate(source, fallback, bosToken, eosToken, limits, Objects.requireNonNull(clock, "clock"));
    }

    /** {@link #of(String, String, String, ChatTemplateLimits)} with {@link ChatTemplateLimits#DEFAULT}. */
    public static ChatTemplate of(String source, String bosToken, String eosToken) {
        return of(source, bosToken, eosToken, ChatTemplateLimits.DEFAULT);
    }

    /**
     * @param source   the Jinja template, or null/blank for {@link #FALLBACK_SOURCE}
     * @param bosToken text of the BOS token ({@code ""} if the model has none; null: the template gets no
     *                 {@code bos_token} variable, as Hugging Face passes none for tokenizers without one)
     * @param eosToken text of the EOS token (same as bosToken)
     * @param limits   what one render may cost
     */
    public static ChatTemplate of(String source, String bosToken, String eosToken, ChatTemplateLimits limits) {
        boolean missing = source == null || source.isBlank();
        return new ChatTemplate(
                missing ? FALLBACK_SOURCE : source,
                missing,
                bosToken,
                eosToken,
                Objects.requireNonNull(limits, "limits"),
                Clock.systemDefaultZone());
    }

    /** The template of a model, with its tokenizer's BOS/EOS texts and the default limits. */
    public static ChatTemplate forModel(String source, Tokenizer tokenizer) {
        return forModel(source, tokenizer, ChatTemplateLimits.DEFAULT);
    }

    /** The template of a model, with its tokenizer's BOS/EOS texts. */
    public static ChatTemplate forModel(String source, Tokenizer tokenizer, ChatTemplateLimits limits) {
        String bos = tokenizer.bos() >= 0 ? tokenizer.tokenText(tokenizer.bos()) : "";
        String eos = tokenizer.eos() >= 0 ? tokenizer.tokenText(tokenizer.eos()) : "";
        return of(source, bos, eos, limits);
    }

    public String source() {
        return source;
    }

    public ChatTemplateLimits limits() {
        return limits;
    }

    /** True when the model has no template and {@link #FALLBACK_SOURCE} is used. */
    public boolean isFallback() {
        return fallback;
    }

    /**
     * Checks that the template works before a model is accepted: it must parse without syntax errors, render the
     * first of {@link #PROBES} and render or deliberately refuse ({@code raise_exception}) the others, all within
     * the limits.
     *
     * @return this template
     * @throws ChatTemplateException ({@link ChatTemplateException.Reason#BROKEN} or {@code LIMIT}) naming the problem
     */
    public ChatTemplate verify() {
        for (int i = 0; i < PROBES.size(); i++) {
            try {
                render(PROBES.get(i), true, true);
            } catch (ChatTemplateException e) {
                if (e.reason() == ChatTemplateException.Reason.RAISED && i > 0) continue;
                String which = "a conversation of " + describe(PROBES.get(i));
                String detail = e.detail();
                String problem = switch (e.reason()) {
                    case RAISED -> "it refuses " + which + " (raise_exception: " + detail + ")";
                    case LIMIT -> "rendering " + which + " exceeded a limit: " + detail;
                    case BROKEN -> detail;
                };
                throw new ChatTemplateException(
                        "the chat template cannot be used: " + problem,
                        e.reason() == ChatTemplateException.Reason.LIMIT
                                ? ChatTemplateException.Reason.LIMIT
                                : ChatTemplateException.Reason.BROKEN,
                        e);
            }
        }
        return this;
    }

    private static String describe(List<ChatMessage> conversation) {
        List<String> roles = new ArrayList<>();
        for (ChatMessage m : conversation) roles.add(m.role());
        return String.join(", ", roles);
    }

    /**
     * Renders {@code messages}; with {@code addGenerationPrompt} the output ends with the cue for the assistant's
     * turn.
     *
     * @throws ChatTemplateException if the template rejects the conversation, fails, or crosses a limit
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, null, addGenerationPrompt, Map.of());
    }

    /**
     * Renders {@code messages} with the tools the model may call, as Hugging Face's
     * {@code apply_chat_template(messages, tools=tools, add_generation_prompt=..., **extraContext)} does.
     *
     * @param tools        the tool definitions ({@code {"type": "function", "function": {...}}} as JSON values), or
     *                     null for none: the template then sees {@code tools} as {@code none}, as Hugging Face passes
     *                     it
     * @param extraContext further template variables (e.g. {@code date_string}); the standard ones cannot be replaced
     * @throws ChatTemplateException if the template rejects the conversation, fails, or crosses a limit
     */
    public String render(
            List<ChatMessage> messages,
            List<Map<String, Object>> tools,
            boolean addGenerationPrompt,
            Map<String, Object> extraContext) {
        return render(variables(messages, tools, addGenerationPrompt, extraContext), false);
    }

    private String render(List<ChatMessage> messages, boolean addGenerationPrompt, boolean strict) {
        return render(variables(messages, null, addGenerationPrompt, Map.of()), strict);
    }

    /**
     * The template's variables, named and shaped as Hugging Face passes them: each message a dict holding only the
     * keys it has (templates test {@code 'tool_calls' in message} and {@code message.tool_calls is defined}).
     */
    private Map<String, Object> variables(
            List<ChatMessage> messages,
            List<Map<String, Object>> tools,
            boolean addGenerationPrompt,
            Map<String, Object> extraContext) {
        List<Object> maps = new ArrayList<>(messages.size());
        for (ChatMessage message : messages) {
            // LinkedHashMap: templates may iterate a message's items; keep role before content like Python dicts.
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", message.role());
            map.put("content", message.content());
            if (!message.toolCalls().isEmpty()) {
                List<Object> calls = new ArrayList<>();
                for (ChatMessage.ToolCall call : message.toolCalls()) {
                    Map<String, Object> function = new LinkedHashMap<>();
                    function.put("name", call.name());
                    function.put("arguments", call.arguments());
                    Map<String, Object> entry = new LinkedHashMap<>();
                    if (call.id() != null) entry.put("id", call.id());
                    entry.put("type", "function");
                    entry.put("function", function);
                    calls.add(entry);
                }
                map.put("tool_calls", calls);
            }
            if (message.toolCallId() != null) map.put("tool_call_id", message.toolCallId());
            if (message.name() != null) map.put("name", message.name());
            maps.add(map);
        }
        Map<String, Object> context = new HashMap<>();
        if (extraContext != null) context.putAll(extraContext);
        context.put("messages", maps);
        // Present with the value None when there are none, as Hugging Face passes them ('tools is none' is true).
        context.put("tools", tools == null ? null : new ArrayList<Object>(tools));
        context.put("documents", null);
        context.put("add_generation_prompt", addGenerationPrompt);
        if (bosToken != null) context.put("bos_token", bosToken);
        else context.remove("bos_token");
        if (eosToken != null) context.put("eos_token", eosToken);
        else context.remove("eos_token");
        return context;
    }

    private String render(Map<String, Object> context, boolean strict) {
        RenderResult result;
        String failure;
        try (RenderBudget budget = RenderBudget.open(limits, readsLoopNeighbours)) {
            RENDER_CLOCK.set(clock);
            try {
                result = TemplateEngine.forLimits(limits).renderForResult(source, context);
            } catch (StackOverflowError e) {
                budget.failQuietly("its constructs nest deeper than the thread's stack allows ("
                        + ChatTemplateLimits.MAX_DEPTH + ")");
                result = null;
            } catch (OutOfMemoryError e) {
                // One allocation larger than the heap could give, made by this render (the limits bound every
                // growth step, so it is a single request, which failed without taking the memory).
                budget.failQuietly(
                        "it needed more memory than the server has (" + ChatTemplateLimits.MAX_ALLOCATED_BYTES + ")");
                result = null;
            } finally {
                RENDER_CLOCK.remove();
            }
            failure = budget.failure();
        }
        if (failure != null) {
            throw new ChatTemplateException(STOPPED + failure, ChatTemplateException.Reason.LIMIT, null);
        }
        for (TemplateError error : result.getErrors()) {
            boolean syntax = error.getReason() == TemplateError.ErrorReason.SYNTAX_ERROR;
            if (error.getSeverity() != TemplateError.ErrorType.FATAL && !(strict && syntax)) {
                continue; // warnings (e.g. an unknown filter argument) do not stop Python's Jinja either
            }
            TemplateRaised raised = find(error.getException(), TemplateRaised.class);
            if (raised != null) {
                throw new ChatTemplateException(raised.getMessage(), ChatTemplateException.Reason.RAISED, raised);
            }
            String where = error.getLineno() > 0 ? " (template line " + error.getLineno() + ")" : "";
            // Jinjava's own bounds (configured from the same limits) say "byte output" and "collection"; name the keys.
            if (error.getReason() == TemplateError.ErrorReason.OUTPUT_TOO_BIG
                    || find(error.getException(), OutputTooBigException.class) != null) {
                throw new ChatTemplateException(
                        STOPPED + "the prompt or a string it builds would be longer than " + limits.maxOutputChars()
                                + " characters (" + ChatTemplateLimits.MAX_OUTPUT_CHARS + ")" + where,
                        ChatTemplateException.Reason.LIMIT,
                        error.getException());
            }
            if (error.getReason() == TemplateError.ErrorReason.COLLECTION_TOO_BIG
                    || find(error.getException(), CollectionTooBigException.class) != null) {
                throw new ChatTemplateException(
                        STOPPED + "a list or dict it builds would hold more than " + limits.maxCollectionSize()
                                + " elements (" + ChatTemplateLimits.MAX_COLLECTION_SIZE + ")" + where,
                        ChatTemplateException.Reason.LIMIT,
                        error.getException());
            }
            throw new ChatTemplateException(
                    FAILED + error.getMessage() + where, ChatTemplateException.Reason.BROKEN, error.getException());
        }
        String output = result.getOutput();
        if (output.length() > limits.maxOutputChars()) {
            throw new ChatTemplateException(
                    STOPPED + "its output has " + output.length() + " characters, more than " + limits.maxOutputChars()
                            + " (" + ChatTemplateLimits.MAX_OUTPUT_CHARS + ")",
                    ChatTemplateException.Reason.LIMIT,
                    null);
        }
        return output;
    }

    /**
     * Tokenizes a rendered prompt: special-token texts ({@code <|im_start|>}, {@code [INST]}...) become their ids,
     * and BOS is prepended when the model wants one unless the template already wrote it (no double BOS).
     */
    public static int[] tokenize(Tokenizer tokenizer, String rendered) {
        boolean addBos = tokenizer.addBosByDefault()
                && tokenizer.bos() >= 0
                && !rendered.startsWith(tokenizer.tokenText(tokenizer.bos()));
        return tokenizer.encodeWithSpecials(rendered, addBos);
    }

    private static <T extends Throwable> T find(Throwable error, Class<T> type) {
        Throwable t = error;
        for (int depth = 0; t != null && depth < 32; depth++) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
            if (t.getCause() == t) {
                break;
            }
            t = t.getCause();
        }
        return null;
    }

    /** Thrown by {@code raise_exception}; recognised in jinjava's error chain. */
    static final class TemplateRaised extends RuntimeException {
        TemplateRaised(String message) {
            super(message);
        }
    }

    /** Functions templates call. Public because jinjava invokes them reflectively. */
    public static final class Functions {
        private Functions() {}

        /**
         * Python's {@code range(stop)} / {@code range(start, stop[, step])}. Replaces Jinjava's, which silently
         * truncates long ranges: here a range longer than max-collection-size fails the render.
         */
        public static List<Object> range(Object first, Object... rest) {
            long start = 0, stop, step = 1;
            if (rest == null || rest.length == 0) {
                stop = integer(first, "stop");
            } else {
                start = integer(first, "start");
                stop = integer(rest[0], "stop");
                if (rest.length > 1) step = integer(rest[1], "step");
            }
            if (step == 0) throw new IllegalArgumentException("range() step must not be zero");
            long count = step > 0
                    ? Math.max(0, Math.ceilDiv(stop - start, step))
                    : Math.max(0, Math.ceilDiv(start - stop, -step));
            RenderBudget budget = RenderBudget.current();
            int limit = budget == null
                    ? ChatTemplateLimits.DEFAULT.maxCollectionSize()
                    : budget.limits().maxCollectionSize();
            if (count > limit) {
                String reason = "range() of " + count + " values is longer than " + limit + " ("
                        + ChatTemplateLimits.MAX_COLLECTION_SIZE + ")";
                if (budget != null) budget.fail(reason);
                throw new IllegalArgumentException(reason);
            }
            List<Object> values = new ArrayList<>((int) count);
            for (long i = 0, v = start; i < count; i++, v += step) values.add(v);
            return values;
        }

        private static long integer(Object value, String name) {
            if (value instanceof Number n) return n.longValue();
            try {
                return Long.parseLong(String.valueOf(value).strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("range() " + name + " must be an integer, got '" + value + "'");
            }
        }

        public static Object raiseException(String message) {
            throw new TemplateRaised(message == null ? "chat template raised an exception" : message);
        }

        /** Python's {@code datetime.now().strftime(format)} for the directives chat templates use. */
        public static String strftimeNow(String format) {
            Clock clock = RENDER_CLOCK.get();
            return strftime(ZonedDateTime.now(clock == null ? Clock.systemDefaultZone() : clock), format);
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
