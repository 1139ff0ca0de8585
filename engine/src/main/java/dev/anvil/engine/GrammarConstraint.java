package dev.anvil.engine;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A grammar the output of a sequence must follow ({@link SequenceRequest#grammar()}): before every sampling step the
 * tokens the grammar does not allow get probability zero, end-of-generation tokens are allowed only where the
 * grammar may end, and the generation ends as soon as the grammar is complete. Immutable; one may be shared by any
 * number of sequences (each {@link Generation} keeps its own {@link GrammarState}).
 *
 * <p>Lazy: with {@code triggers}, the output is free until the generated text contains one of them; from the
 * trigger's first byte on, the grammar applies (so the grammar starts by matching the trigger itself, e.g.
 * {@code root ::= "<tool_call>" ...}). If the rest of the token that completed the trigger already breaks the
 * grammar, the generation ends there.
 *
 * @param grammar  the grammar, from {@link Grammar#parse}
 * @param triggers empty: the grammar applies from the first token; otherwise the texts that start it
 */
public record GrammarConstraint(Grammar grammar, List<String> triggers) {

    public GrammarConstraint {
        if (grammar == null) throw new IllegalArgumentException("grammar is null");
        triggers = triggers == null ? List.of() : List.copyOf(triggers);
        for (String t : triggers)
            if (t == null || t.isEmpty()) throw new IllegalArgumentException("a grammar trigger is empty");
    }

    /** The grammar applies from the first generated token. */
    public static GrammarConstraint of(Grammar grammar) {
        return new GrammarConstraint(grammar, List.of());
    }

    /** The grammar applies once the output contains one of {@code triggers}. */
    public static GrammarConstraint lazy(Grammar grammar, List<String> triggers) {
        if (triggers == null || triggers.isEmpty())
            throw new IllegalArgumentException("a lazy grammar needs a trigger");
        return new GrammarConstraint(grammar, triggers);
    }

    public boolean isLazy() {
        return !triggers.isEmpty();
    }

    byte[][] triggerBytes() {
        byte[][] b = new byte[triggers.size()][];
        for (int i = 0; i < b.length; i++) b[i] = triggers.get(i).getBytes(StandardCharsets.UTF_8);
        return b;
    }
}
