package dev.anvil.engine;

import java.util.Arrays;

/**
 * Where a {@link Grammar} stands after some bytes of output: the set of parses still alive, as llama.cpp's grammar
 * keeps them. Each parse is a stack whose top is the terminal (character class) it expects next and whose lower
 * frames are the positions to continue at once the rule on top ends; stacks are persistent linked lists, so parses
 * that forked share their common bottom. A reference in tail position pushes nothing (the rule continues where its
 * caller would), so right recursion such as {@code x*} runs in constant depth.
 *
 * <p>Input is bytes, as tokens are: byte-level BPE and byte-fallback tokens may end in the middle of a UTF-8
 * character. The state then carries the partial character, and stays alive only if some expected class holds a
 * code point the completed character could still be. Malformed UTF-8 (overlong forms, surrogates, stray
 * continuation bytes) kills the state, as the detokenizer would print U+FFFD for it, which is not what the
 * grammar matched.
 *
 * <p>Immutable: {@link #advance} returns a new state or null when the byte cannot continue any parse. States are
 * equal when they hold the same parses, which is what {@link TokenTrie} caches token masks by.
 */
public final class GrammarState {

    /** One parse stack: top position, then the rest (shared). Hash and depth are computed once. */
    static final class Frame {
        final int pos;
        final Frame next;
        final int hash;
        final int depth;

        Frame(int pos, Frame next) {
            this.pos = pos;
            this.next = next;
            this.hash = (next == null ? 0x2545F491 : next.hash) * 0x01000193 ^ (pos + 1);
            this.depth = next == null ? 1 : next.depth + 1;
        }

        boolean sameAs(Frame o) {
            for (Frame a = this, b = o; a != b; a = a.next, b = b.next) {
                if (a == null || b == null || a.pos != b.pos || a.hash != b.hash) return false;
            }
            return true;
        }
    }

    private static final Frame[] NO_STACKS = {};

    final Grammar grammar;
    /** Live parses, each topped by a TERM position; sorted by hash so equal sets compare equal. */
    final Frame[] stacks;
    /** Whether some parse has finished the root rule (the output may end here). */
    final boolean accepting;
    /** Bits of an unfinished UTF-8 character, and how many continuation bytes it still needs (0: none pending). */
    final int partial, partialLeft, partialLength;

    private final int hash;

    private GrammarState(
            Grammar grammar, Frame[] stacks, boolean accepting, int partial, int partialLeft, int partialLength) {
        this.grammar = grammar;
        this.stacks = stacks;
        this.accepting = accepting;
        this.partial = partial;
        this.partialLeft = partialLeft;
        this.partialLength = partialLength;
        int h = System.identityHashCode(grammar) * 31 + (accepting ? 1 : 0);
        for (Frame f : stacks) h = h * 0x01000193 ^ f.hash;
        this.hash = (h * 31 + partial) * 31 + partialLeft;
    }

    /** The state before any output: the root rule's alternatives expanded. */
    public static GrammarState initial(Grammar grammar) {
        Expansion out = new Expansion(grammar);
        for (int alt : grammar.ruleAlts[grammar.root]) out.expand(alt, null);
        return out.state();
    }

    /** Whether the output may end here: a parse is complete and no character is half written. */
    public boolean canEnd() {
        return accepting && partialLeft == 0;
    }

    /** Whether nothing can follow: every parse is complete. Generation ends here. */
    public boolean isComplete() {
        return stacks.length == 0 && partialLeft == 0;
    }

    /** The state after {@code bytes[from, to)}, or null when they cannot continue the output. */
    public GrammarState advance(byte[] bytes, int from, int to) {
        GrammarState s = this;
        for (int i = from; i < to && s != null; i++) s = s.advance(bytes[i]);
        return s;
    }

    public GrammarState advance(byte[] bytes) {
        return advance(bytes, 0, bytes.length);
    }

    /** The state after one more byte of output, or null when no parse can take it. */
    public GrammarState advance(byte b) {
        int u = b & 0xFF;
        if (partialLeft == 0) {
            if (u < 0x80) return advanceCodePoint(u);
            if (u >= 0xC2 && u <= 0xDF) return pending(u & 0x1F, 1, 1);
            if (u >= 0xE0 && u <= 0xEF) return pending(u & 0x0F, 2, 2);
            if (u >= 0xF0 && u <= 0xF4) return pending(u & 0x07, 3, 3);
            return null; // a continuation byte without lead, or a byte never valid in UTF-8
        }
        if ((u & 0xC0) != 0x80) return null;
        if (partialLeft == partialLength) {
            // The second byte rules out overlong forms, surrogates and code points beyond U+10FFFF.
            if (partialLength == 2 && partial == 0 && u < 0xA0) return null;
            if (partialLength == 2 && partial == 0xD && u > 0x9F) return null;
            if (partialLength == 3 && partial == 0 && u < 0x90) return null;
            if (partialLength == 3 && partial == 4 && u > 0x8F) return null;
        }
        int cp = partial << 6 | (u & 0x3F);
        return partialLeft == 1 ? advanceCodePoint(cp) : pending(cp, partialLeft - 1, partialLength);
    }

    /** Half a character: alive while some expected class holds a code point it may still become. */
    private GrammarState pending(int bits, int left, int length) {
        // The smallest code point of a character of this length (below it would be an overlong form).
        int min = length == 1 ? 0x80 : length == 2 ? 0x800 : 0x10000;
        int lo = Math.max(min, bits << (6 * left)),
                hi = Math.min(0x10FFFF, (bits << (6 * left)) | ((1 << (6 * left)) - 1));
        for (Frame f : stacks) {
            if (grammar.intersects(grammar.arg[f.pos], lo, hi))
                return new GrammarState(grammar, stacks, false, bits, left, length);
        }
        return null;
    }

    private GrammarState advanceCodePoint(int cp) {
        Expansion out = null;
        for (Frame f : stacks) {
            if (!grammar.matches(grammar.arg[f.pos], cp)) continue;
            if (out == null) out = new Expansion(grammar);
            out.expand(f.pos + 1, f.next);
        }
        if (out == null) return null;
        GrammarState s = out.state();
        return s.stacks.length == 0 && !s.accepting ? null : s;
    }

    /** Collects the parses reachable from positions, references expanded until a terminal (or the end) is on top. */
    private static final class Expansion {
        private final Grammar g;
        private Frame[] out = new Frame[4];
        private int n;
        private boolean accepting;

        Expansion(Grammar g) {
            this.g = g;
        }

        /** Continue at {@code pos} with {@code rest} below. */
        void expand(int pos, Frame rest) {
            while (true) {
                byte k = g.kind[pos];
                if (k == Grammar.END) {
                    if (rest == null) {
                        accepting = true;
                        return;
                    }
                    pos = rest.pos; // the rule on top ended: continue in its caller
                    rest = rest.next;
                } else if (k == Grammar.TERM) {
                    if (rest != null && rest.depth >= g.limits.maxStackDepth()) return; // nested too deep: dropped
                    add(new Frame(pos, rest));
                    return;
                } else {
                    Frame cont = g.kind[pos + 1] == Grammar.END ? rest : new Frame(pos + 1, rest);
                    if (cont != null && cont.depth > g.limits.maxStackDepth()) return;
                    int[] alts = g.ruleAlts[g.arg[pos]];
                    for (int i = 0; i < alts.length - 1; i++) expand(alts[i], cont);
                    pos = alts[alts.length - 1];
                    rest = cont;
                }
            }
        }

        private void add(Frame f) {
            for (int i = 0; i < n; i++) if (out[i].hash == f.hash && out[i].sameAs(f)) return;
            if (n == g.limits.maxStacks()) return; // too ambiguous: further parses are dropped
            if (n == out.length) out = Arrays.copyOf(out, n * 2);
            out[n++] = f;
        }

        GrammarState state() {
            Frame[] stacks = n == 0 ? NO_STACKS : Arrays.copyOf(out, n);
            if (n > 1) Arrays.sort(stacks, (a, b) -> Integer.compare(a.hash, b.hash));
            return new GrammarState(g, stacks, accepting, 0, 0, 0);
        }
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) return true;
        if (!(o instanceof GrammarState s)) return false;
        if (s.hash != hash
                || s.grammar != grammar
                || s.accepting != accepting
                || s.partial != partial
                || s.partialLeft != partialLeft
                || s.stacks.length != stacks.length) return false;
        if (s.stacks == stacks) return true;
        for (int i = 0; i < stacks.length; i++) if (!stacks[i].sameAs(s.stacks[i])) return false;
        return true;
    }

    @Override
    public String toString() {
        return "GrammarState[" + stacks.length + " parses" + (accepting ? ", may end" : "")
                + (partialLeft > 0 ? ", mid-character" : "") + "]";
    }
}
