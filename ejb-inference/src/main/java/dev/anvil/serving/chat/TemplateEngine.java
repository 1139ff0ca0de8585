package dev.anvil.serving.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.el.JinjavaProcessors;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.ForTag;
import com.hubspot.jinjava.lib.tag.SetTag;
import com.hubspot.jinjava.objects.SafeString;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import com.hubspot.jinjava.util.ForLoop;
import java.beans.FeatureDescriptor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * The Jinja engine chat templates run in: one Jinjava per set of {@link ChatTemplateLimits} (in practice one), shared
 * by all renders, with Python Jinja semantics and every way out of the limits closed.
 *
 * <ul>
 *   <li>Data stays data: Jinjava's "nested interpretation" (rendering an expression's value again when it contains
 *       {@code {{}} or {@code {%}) is off, so a message {@code {{ 7*7 }}} is printed as written; the {@code render}
 *       filter (which renders its input as a template) is disabled.</li>
 *   <li>No files: {@code include}, {@code import}, {@code from} and {@code extends} are disabled and the resource
 *       locator refuses every name (Jinjava's default reads the class path, i.e. the deployment's own files).</li>
 *   <li>Bounded: every node rendered, filter called and method called is a step of the render's {@link RenderBudget}
 *       (time, steps, allocated bytes, nesting); what a filter or method returns and what {@code set} stores is
 *       measured; arguments that size a result (widths, counts, repeated replacements) are checked before the call,
 *       so no single call can allocate past the limits; {@code range} refuses more than max-collection-size values
 *       instead of Jinjava's silent truncation; strings get Python's methods ({@link PythonStrings}), not Java's.</li>
 * </ul>
 */
final class TemplateEngine {

    private static final Map<ChatTemplateLimits, Jinjava> ENGINES = new ConcurrentHashMap<>();

    /** Tags that read other templates (resources), and jinjava-only filters that interpret text. */
    static final Set<String> DISABLED_TAGS = Set.of("include", "import", "from", "extends");
    /**
     * render and fromyaml would run text as a template or parse YAML; the others are jinjava's own, not Jinja's (no
     * chat template uses them), and their libraries are not deployed (ejb-inference/pom.xml).
     */
    static final Set<String> DISABLED_FILTERS =
            Set.of("render", "fromyaml", "ipaddr", "ipv4", "ipv6", "b64encode", "log", "root");

    private static final Pattern DIGITS = Pattern.compile("\\d+");

    private TemplateEngine() {}

    static Jinjava forLimits(ChatTemplateLimits limits) {
        return ENGINES.computeIfAbsent(limits, TemplateEngine::create);
    }

    private static Jinjava create(ChatTemplateLimits limits) {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withFailOnUnknownTokens(false)
                .withNestedInterpretationEnabled(false)
                .withMaxOutputSize(limits.maxOutputChars())
                .withMaxStringLength(limits.maxOutputChars())
                .withMaxListSize(limits.maxCollectionSize())
                .withMaxMapSize(limits.maxCollectionSize())
                .withRangeLimit(limits.maxCollectionSize())
                .withDisabled(Map.of(Context.Library.TAG, DISABLED_TAGS, Context.Library.FILTER, DISABLED_FILTERS))
                .withElResolver(new BoundedResolver(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY))
                .withProcessors(JinjavaProcessors.newBuilder()
                        .withNodePreProcessor(TemplateEngine::beforeNode)
                        .withNodePostProcessor(TemplateEngine::afterNode)
                        .build())
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
        Jinjava jinja = PythonExpressions.jinjava(config);
        jinja.setResourceLocator((name, encoding, interpreter) -> {
            throw new IOException("chat templates cannot read other templates or files ('" + name + "')");
        });
        Context global = jinja.getGlobalContext();
        // Python Jinja / Hugging Face semantics for the filters chat templates use (registered before the bounds wrap
        // them).
        global.registerFilter(new PythonJson.ToJson());
        global.registerFilter(new PythonJson.Items());
        // Python: strings are iterable too (Llama 3.1 serialises a tool message's content with tojson when it is).
        global.registerExpTest(new com.hubspot.jinjava.lib.exptest.ExpTest() {
            @Override
            public String getName() {
                return "iterable";
            }

            @Override
            public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
                return var instanceof CharSequence
                        || var instanceof Iterable<?>
                        || var instanceof Map<?, ?>
                        || (var != null && var.getClass().isArray());
            }
        });
        for (Filter filter : List.copyOf(global.getAllFilters())) {
            global.registerFilter(new BoundedFilter(filter));
        }
        global.registerFunction(new ELFunctionDefinition(
                "", "raise_exception", ChatTemplate.Functions.class, "raiseException", String.class));
        global.registerFunction(new ELFunctionDefinition(
                "", "strftime_now", ChatTemplate.Functions.class, "strftimeNow", String.class));
        global.registerFunction(new ELFunctionDefinition(
                "", "range", ChatTemplate.Functions.class, "range", Object.class, Object[].class));
        return jinja;
    }

    private static void beforeNode(Node node, JinjavaInterpreter interpreter) {
        RenderBudget budget = RenderBudget.current();
        if (budget == null) return;
        budget.enter();
        if (budget.tracksLoopNeighbours() && node instanceof TagNode tag && tag.getTag() instanceof ForTag) {
            budget.enterLoop(loopItems(tag, interpreter));
        }
    }

    /** The loop's sequence as a list (empty where it has a filter or is not a sequence: no previtem then). */
    private static List<?> loopItems(TagNode tag, JinjavaInterpreter interpreter) {
        String helpers = tag.getHelpers();
        int in = helpers.indexOf(" in ");
        if (in < 0 || helpers.contains(" if ") || helpers.contains(" recursive")) return List.of();
        Object items = interpreter.resolveELExpression(helpers.substring(in + 4).strip(), tag.getLineNumber());
        if (items instanceof List<?> list) return list;
        return List.of();
    }

    private static void afterNode(Node node, JinjavaInterpreter interpreter) {
        RenderBudget budget = RenderBudget.current();
        if (budget == null) return;
        if (budget.tracksLoopNeighbours() && node instanceof TagNode tag && tag.getTag() instanceof ForTag) {
            budget.exitLoop();
        }
        Object assigned = null;
        if (budget.failure() == null && node instanceof TagNode tag && tag.getTag() instanceof SetTag) {
            assigned = assignedValues(tag, interpreter);
        }
        budget.exit(assigned);
    }

    /**
     * The variables a {@code set} tag wrote, as a list (or null): {@code set a, b = ...}, {@code set ns.items = ...}
     * (the whole namespace is measured), {@code set block %}...{% endset}.
     */
    private static Object assignedValues(TagNode tag, JinjavaInterpreter interpreter) {
        String helpers = tag.getHelpers();
        int eq = helpers.indexOf('=');
        String targets = eq >= 0 ? helpers.substring(0, eq) : helpers.split("\\|", 2)[0];
        List<Object> values = new ArrayList<>();
        for (String target : targets.split(",")) {
            String root = target.strip();
            int dot = root.indexOf('.');
            if (dot >= 0) root = root.substring(0, dot);
            if (root.isEmpty()) continue;
            Object value = interpreter.getContext().get(root);
            if (value != null) values.add(value);
        }
        return values.isEmpty() ? null : values;
    }

    /** Numbers that size a filter's result (widths, counts, batch sizes) may not exceed max-output-chars. */
    private static void checkSizingArguments(
            String filter, Object[] args, Map<String, Object> kwargs, RenderBudget budget) {
        int limit = budget.limits().maxOutputChars();
        List<Object> all = new ArrayList<>();
        if (args != null) all.addAll(java.util.Arrays.asList(args));
        if (kwargs != null) all.addAll(kwargs.values());
        for (Object arg : all) {
            // Numbers only: a string argument is text to insert or look for, whatever digits it holds.
            if (arg instanceof Number n && Math.abs(n.doubleValue()) > limit) {
                budget.fail("filter '" + filter + "' got the argument " + arg + ", larger than " + limit + " ("
                        + ChatTemplateLimits.MAX_OUTPUT_CHARS + ")");
            }
        }
    }

    private static double numeric(Object arg) {
        if (arg instanceof Number n) return n.doubleValue();
        if (arg instanceof CharSequence s && !s.isEmpty() && s.length() < 40) {
            try {
                return Double.parseDouble(s.toString().strip());
            } catch (NumberFormatException e) {
                return 0;
            }
        }
        return 0;
    }

    /** Result sizes of the filters that can amplify their input, computed before they run. */
    private static void checkAmplification(String filter, Object var, Object[] args, RenderBudget budget) {
        if (!(var instanceof CharSequence)) return;
        String s = var.toString();
        switch (filter) {
            case "replace" -> {
                if (args == null || args.length < 2 || args[0] == null || args[1] == null) return;
                String old = args[0].toString(), replacement = args[1].toString();
                if (replacement.length() <= old.length()) return;
                long occurrences = old.isEmpty() ? s.length() + 1L : countOccurrences(s, old);
                if (args.length > 2 && numeric(args[2]) >= 0)
                    occurrences = Math.min(occurrences, (long) numeric(args[2]));
                budget.checkString(
                        clamp(s.length() + occurrences * (replacement.length() - old.length())),
                        "the result of filter 'replace'");
            }
            case "indent" -> {
                long width = args == null || args.length == 0 ? 4 : (long) Math.abs(numeric(args[0]));
                long lines = s.chars().filter(c -> c == '\n').count() + 1;
                budget.checkString(clamp(s.length() + lines * width), "the result of filter 'indent'");
            }
            case "format" -> {
                // printf widths and precisions ('%0999999999d') size the result
                Matcher m = DIGITS.matcher(s);
                while (m.find()) {
                    if (m.end() - m.start() > 9
                            || Long.parseLong(m.group()) > budget.limits().maxOutputChars()) {
                        budget.fail("filter 'format' got a width or precision larger than "
                                + budget.limits().maxOutputChars() + " (" + ChatTemplateLimits.MAX_OUTPUT_CHARS + ")");
                    }
                }
            }
            default -> {}
        }
    }

    private static long countOccurrences(String s, String sub) {
        long n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
        return n;
    }

    private static int clamp(long length) {
        return (int) Math.min(Integer.MAX_VALUE, length);
    }

    /** A filter with the render's checks around it. */
    private static final class BoundedFilter implements Filter {
        private final Filter delegate;

        BoundedFilter(Filter delegate) {
            this.delegate = delegate;
        }

        @Override
        public String getName() {
            return delegate.getName();
        }

        @Override
        public boolean preserveSafeString() {
            return delegate.preserveSafeString();
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            RenderBudget budget = before(var, args, null);
            return after(delegate.filter(var, interpreter, args), budget);
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            RenderBudget budget = before(var, args, kwargs);
            return after(delegate.filter(var, interpreter, args, kwargs), budget);
        }

        @Override
        public Object filter(SafeString var, JinjavaInterpreter interpreter, String... args) {
            RenderBudget budget = before(var, args, null);
            return after(delegate.filter(var, interpreter, args), budget);
        }

        private RenderBudget before(Object var, Object[] args, Map<String, Object> kwargs) {
            RenderBudget budget = RenderBudget.current();
            if (budget == null) return null;
            budget.step();
            checkSizingArguments(getName(), args, kwargs, budget);
            checkAmplification(getName(), var, args, budget);
            return budget;
        }

        private Object after(Object result, RenderBudget budget) {
            if (budget != null && result != null) budget.checkValue(result, "the result of filter '" + getName() + "'");
            return result;
        }
    }

    /**
     * Jinjava's resolver chain with method calls bounded: a call on a string runs {@link PythonStrings}; any other
     * call is a step and its result is measured.
     */
    private static final class BoundedResolver extends ELResolver {
        private final ELResolver delegate;

        BoundedResolver(ELResolver delegate) {
            this.delegate = delegate;
        }

        @Override
        public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
            RenderBudget budget = RenderBudget.current();
            if (budget != null) budget.step();
            if (base instanceof String s && method != null) {
                Object result = PythonStrings.invoke(s, method.toString(), params, budget);
                context.setPropertyResolved(true);
                return result;
            }
            Object result = delegate.invoke(context, base, method, paramTypes, params);
            if (budget != null && result != null) budget.checkValue(result, "the result of method '" + method + "'");
            return result;
        }

        @Override
        public Class<?> getCommonPropertyType(ELContext context, Object base) {
            return delegate.getCommonPropertyType(context, base);
        }

        @Override
        public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
            return delegate.getFeatureDescriptors(context, base);
        }

        @Override
        public Class<?> getType(ELContext context, Object base, Object property) {
            return delegate.getType(context, base, property);
        }

        @Override
        public Object getValue(ELContext context, Object base, Object property) {
            if (base instanceof ForLoop loop && ("previtem".equals(property) || "nextitem".equals(property))) {
                context.setPropertyResolved(true);
                RenderBudget budget = RenderBudget.current();
                List<?> items = budget == null ? null : budget.innermostLoopItems();
                int at = loop.getIndex0() + ("previtem".equals(property) ? -1 : 1);
                return items != null && at >= 0 && at < items.size() ? items.get(at) : null;
            }
            return delegate.getValue(context, base, property);
        }

        @Override
        public boolean isReadOnly(ELContext context, Object base, Object property) {
            return delegate.isReadOnly(context, base, property);
        }

        @Override
        public void setValue(ELContext context, Object base, Object property, Object value) {
            delegate.setValue(context, base, property, value);
        }
    }
}
