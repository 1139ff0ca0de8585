package dev.anvil.serving.tools;

import dev.anvil.engine.Grammar;
import dev.anvil.engine.GrammarConstraint;
import dev.anvil.engine.Json;
import dev.anvil.engine.JsonSchemaGrammar;
import java.util.List;

/**
 * The grammar that makes a model's tool calls valid by construction: a call in the family's {@link ToolCallSyntax},
 * to one of the allowed functions, whose arguments follow that function's parameter schema (compiled by {@link
 * JsonSchemaGrammar}), written exactly as {@link ToolCallStream} reads it.
 *
 * <ul>
 *   <li>Forced ({@code tool_choice} {@code required} or a named function): the answer is the call(s), from the first
 *       token ({@link GrammarConstraint#of}).</li>
 *   <li>{@code auto}, Hermes syntax: free text until {@code <tool_call>} appears, then the call(s) (a lazy grammar
 *       triggered by the marker, as llama.cpp's lazy tool grammars are).</li>
 *   <li>{@code auto}, the syntaxes whose call is the whole answer (Llama 3 JSON, Mistral's array, generic): an answer
 *       that opens with {@code {}} (Mistral: {@code [}) is the call(s); any other first character starts free text.
 *       The grammar applies from the first token, its text branch allowing everything.</li>
 * </ul>
 *
 * Without {@code parallel_tool_calls} (and always for Llama 3, whose template renders one call per turn) the grammar
 * holds exactly one call.
 */
public final class ToolGrammar {

    /** A function the answer may call, with its parameters' JSON Schema (JSON text). */
    public record Function(String name, String parametersJson) {}

    private ToolGrammar() {}

    /**
     * The constraint for an answer that may call {@code functions}.
     *
     * @param forced whether the answer must be a call (else the model may answer text)
     * @throws JsonSchemaGrammar.SchemaException for a parameters schema the grammar compiler cannot express
     * @throws Grammar.GrammarException          when the combined grammar exceeds the grammar limits
     */
    public static GrammarConstraint constraint(
            ToolCallSyntax syntax, List<Function> functions, boolean parallel, boolean forced) {
        String gbnf = gbnf(syntax, functions, parallel, forced);
        Grammar grammar = Grammar.parse(gbnf, limits(gbnf));
        if (forced || syntax != ToolCallSyntax.HERMES) return GrammarConstraint.of(grammar);
        return GrammarConstraint.lazy(grammar, List.of("<tool_call>"));
    }

    /** The default grammar limits, with room for the source of many tools' schemas. */
    private static Grammar.Limits limits(String gbnf) {
        Grammar.Limits d = Grammar.Limits.DEFAULT;
        if (gbnf.length() <= d.maxSourceChars()) return d;
        return new Grammar.Limits(
                gbnf.length(),
                d.maxRules(),
                d.maxElements(),
                d.maxNesting(),
                d.maxRepetition(),
                d.maxStackDepth(),
                d.maxStacks());
    }

    /** The grammar's GBNF text (see the class comment for its shape). */
    static String gbnf(ToolCallSyntax syntax, List<Function> functions, boolean parallel, boolean forced) {
        if (functions.isEmpty()) throw new IllegalArgumentException("no functions to call");
        boolean many = parallel && syntax != ToolCallSyntax.LLAMA3;
        StringBuilder rules = new StringBuilder();
        StringBuilder call = new StringBuilder("call ::= ");
        for (int i = 0; i < functions.size(); i++) {
            Function f = functions.get(i);
            String args = "tool" + i + "-args";
            rules.append(JsonSchemaGrammar.rules(Json.parse(f.parametersJson()), args));
            String open = "{\"name\": " + Json.quote(f.name()) + ", \"" + syntax.argumentsKey + "\": ";
            if (i > 0) call.append(" | ");
            call.append(JsonSchemaGrammar.literal(open))
                    .append(' ')
                    .append(args)
                    .append(' ');
            call.append(JsonSchemaGrammar.literal("}"));
        }
        String calls = switch (syntax) {
            case HERMES -> {
                String block = JsonSchemaGrammar.literal("<tool_call>\n") + " call "
                        + JsonSchemaGrammar.literal("\n</tool_call>");
                yield many ? block + " (" + JsonSchemaGrammar.literal("\n") + " " + block + ")*" : block;
            }
            case LLAMA3 -> "call";
            case MISTRAL ->
                JsonSchemaGrammar.literal("[")
                        + (many ? " call (" + JsonSchemaGrammar.literal(", ") + " call)* " : " call ")
                        + JsonSchemaGrammar.literal("]");
            case GENERIC ->
                JsonSchemaGrammar.literal("{\"tool_calls\": [")
                        + (many ? " call (" + JsonSchemaGrammar.literal(", ") + " call)* " : " call ")
                        + JsonSchemaGrammar.literal("]}");
        };
        String root;
        if (forced || syntax == ToolCallSyntax.HERMES) {
            root = "root ::= " + calls + "\n";
        } else {
            // The call is the whole answer or there is none: an answer that opens with the call's first character
            // is the call; any other first character starts text, which may then be anything.
            String first = syntax == ToolCallSyntax.MISTRAL ? "[" : "{";
            root = "root ::= [ \\t\\n]* ( calls | [^" + (first.equals("[") ? "\\[" : first) + " \\t\\n] text )?\n"
                    + "calls ::= " + calls + "\n" + "text ::= .*\n";
        }
        return root + call + "\n" + rules;
    }
}
