package dev.anvil.api.openai;

import dev.anvil.api.ApiException;
import dev.anvil.engine.Grammar;
import dev.anvil.engine.GrammarConstraint;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Compiles a request's {@link RequestGrammar} under the configured bounds ({@code anvil.api.grammar.*}), before
 * anything is routed or reserved: a grammar that does not parse, or is too large, is a 400 naming its field, with
 * line and column for GBNF errors. Compiled grammars are kept (least recently used, a few hundred) by their text, so
 * repeated schemas, and the built-in JSON object grammar, reuse their token masks across requests.
 */
@ApplicationScoped
public class RequestGrammars {

    private static final int CACHED = 256;

    @Inject
    OpenAiConfig config;

    private final Map<String, Grammar> compiled = new LinkedHashMap<>(64, 0.75f, true);

    /** The constraint for the request's grammar, or null when it has none. */
    GrammarConstraint compile(RequestGrammar grammar) {
        if (grammar == null) return null;
        String text = grammar.gbnf();
        boolean field = grammar.param().equals(RequestGrammar.FIELD);
        if (field && text.length() > config.grammarMaxChars()) {
            throw ApiException.badRequest(
                    "'grammar' has " + text.length() + " characters, more than the limit of " + config.grammarMaxChars()
                            + " (anvil.api.grammar.max-chars)",
                    grammar.param());
        }
        synchronized (compiled) {
            Grammar g = compiled.get(text);
            if (g != null) return GrammarConstraint.of(g);
        }
        Grammar g;
        try {
            g = Grammar.parse(text, limits());
        } catch (Grammar.GrammarException e) {
            String what = field ? "'grammar'" : grammar.param() + ": the compiled grammar";
            throw ApiException.badRequest(what + ": " + e.getMessage(), grammar.param());
        }
        synchronized (compiled) {
            compiled.put(text, g);
            if (compiled.size() > CACHED) {
                var it = compiled.entrySet().iterator();
                it.next();
                it.remove();
            }
        }
        return GrammarConstraint.of(g);
    }

    private Grammar.Limits limits() {
        Grammar.Limits d = Grammar.Limits.DEFAULT;
        return new Grammar.Limits(
                d.maxSourceChars(),
                config.grammarMaxRules(),
                d.maxElements(),
                d.maxNesting(),
                d.maxRepetition(),
                config.grammarMaxStackDepth(),
                d.maxStacks());
    }
}
