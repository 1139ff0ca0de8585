package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The GBNF parser and the pushdown matcher: what a grammar accepts, and how it refuses bad grammars. */
class GrammarTest {

    /** Whether {@code g} accepts exactly {@code text} (a complete sentence). */
    static boolean accepts(Grammar g, String text) {
        GrammarState s = prefix(g, text);
        return s != null && s.canEnd();
    }

    /** The state after {@code text}, or null when it is no prefix of a sentence. */
    static GrammarState prefix(Grammar g, String text) {
        return GrammarState.initial(g).advance(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void literalsAlternativesGroupsAndRepetition() {
        Grammar g = Grammar.parse("""
                root ::= greeting ( ", " name )? "!"   # a comment
                greeting ::= "hi" | "hello"
                name ::= [A-Z] [a-z]* | "you"
                """);
        assertTrue(accepts(g, "hi!"));
        assertTrue(accepts(g, "hello, Bob!"));
        assertTrue(accepts(g, "hi, you!"));
        assertTrue(accepts(g, "hi, B!"));
        assertFalse(accepts(g, "hi, bob!"));
        assertFalse(accepts(g, "hey!"));
        assertFalse(accepts(g, "hi"), "a prefix is not a sentence");
        assertTrue(prefix(g, "hello, Bo") != null);
        assertNull(prefix(g, "hello,Bo"));
        assertTrue(GrammarState.initial(g).advance("hi!".getBytes()).isComplete());
    }

    @Test
    void boundedRepetitionCountsExactly() {
        Grammar g = Grammar.parse("root ::= [0-9]{2,4} \"x\"{3} [ab]{1,} \"c\"{0,2} \"d\"{2,}");
        assertTrue(accepts(g, "12xxxadd"));
        assertTrue(accepts(g, "1234xxxababccddd"));
        assertFalse(accepts(g, "1xxxadd"));
        assertFalse(accepts(g, "12345xxxadd"));
        assertFalse(accepts(g, "12xxadd"));
        assertFalse(accepts(g, "12xxxacccdd"));
        assertFalse(accepts(g, "12xxxad"));
        assertTrue(accepts(Grammar.parse("root ::= \"ab\"+"), "ababab"), "a repeated literal repeats whole");
        assertFalse(accepts(Grammar.parse("root ::= \"ab\"+"), "abb"));
    }

    @Test
    void classesNegationRangesEscapesAndAny() {
        Grammar g = Grammar.parse("root ::= [^\"\\\\a-c] [\\x41-\\x43\\u00e9-] \"\\n\\t\\\"\\u00fc\\U0001F600\" .");
        assertTrue(accepts(g, "dA\n\t\"ü😀z"));
        assertTrue(accepts(g, "\u00e9\u00e9\n\t\"ü😀日"));
        assertTrue(accepts(g, "x-\n\t\"ü😀z"));
        assertFalse(accepts(g, "aA\n\t\"ü😀z"));
        assertFalse(accepts(g, "\"A\n\t\"ü😀z"));
        assertFalse(accepts(g, "dD\n\t\"ü😀z"));
    }

    @Test
    void rulesMaySpanLinesAndBeUsedBeforeDefinition() {
        Grammar g = Grammar.parse("root ::=\n  a\n  | b\nb ::= \"b\"\n a ::= (\n \"a\"\n )+\n");
        assertTrue(accepts(g, "aaa"));
        assertTrue(accepts(g, "b"));
        assertFalse(accepts(g, "ab"));
    }

    @Test
    void rightRecursionRunsInConstantDepth() {
        Grammar g = Grammar.parse("root ::= \"a\" root | \"b\"");
        GrammarState s = GrammarState.initial(g).advance("a".repeat(5000).getBytes());
        assertTrue(s != null && s.stacks[0].depth == 1);
        assertTrue(s.advance((byte) 'b').canEnd());
    }

    @Test
    void nestingBeyondTheStackLimitIsNotAllowed() {
        Grammar g =
                Grammar.parse("root ::= \"(\" root \")\" | \"x\"", new Grammar.Limits(1000, 100, 1000, 8, 10, 16, 8));
        assertTrue(prefix(g, "(".repeat(15)) != null);
        assertNull(prefix(g, "(".repeat(17)));
    }

    @Test
    void partialUtf8IsTrackedAcrossBytes() {
        Grammar g = Grammar.parse("root ::= [\\u00e0-\\u00ff]+ \"€\"");
        byte[] e = "é€".getBytes(StandardCharsets.UTF_8); // C3 A9 E2 82 AC
        GrammarState s = GrammarState.initial(g).advance(e[0]);
        assertTrue(s != null && !s.canEnd(), "a lead byte of a possible character stays alive");
        assertNull(GrammarState.initial(g).advance((byte) 0xE6), "no class holds a U+6000-range character");
        assertNull(GrammarState.initial(g).advance((byte) 0xA9), "a stray continuation byte");
        assertNull(GrammarState.initial(g).advance(new byte[] {(byte) 0xC0, (byte) 0x80}), "overlong");
        assertTrue(GrammarState.initial(g).advance(e).canEnd());
        Grammar any = Grammar.parse("root ::= .");
        assertNull(GrammarState.initial(any).advance(new byte[] {(byte) 0xED, (byte) 0xA0}), "a surrogate half");
        assertNull(GrammarState.initial(any).advance((byte) 0xFF));
    }

    @Test
    void equalStatesAreEqual() {
        Grammar g = Grammar.parse("root ::= \"\\\"\" [a-z]* \"\\\"\"");
        GrammarState a = prefix(g, "\"ab"), b = prefix(g, "\"xyz");
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertFalse(a.equals(prefix(g, "\"")) && prefix(g, "\"").equals(prefix(g, "\"ab\"")));
    }

    @Test
    void badGrammarsAreRefusedWithLineAndColumn() {
        Grammar.GrammarException e =
                assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= \"a\"\nx ::= [b"));
        assertEquals(2, e.line());
        assertEquals(7, e.column());
        e = assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= foo"));
        assertTrue(e.getMessage().contains("'foo' is used but not defined"), e.getMessage());
        assertEquals(1, e.line());
        assertEquals(10, e.column());
        assertTrue(assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("a ::= \"x\""))
                .getMessage()
                .contains("no 'root'"));
        assertTrue(assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= root \"a\" | \"b\""))
                .getMessage()
                .contains("left recursion"));
        assertTrue(assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= (\"a\"?)*"))
                .getMessage()
                .contains("recurse without consuming"));
        assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= \"a\"{5000}"));
        assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= \"a\"{3,2}"));
        assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= \"\\q\""));
        assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= [z-a]"));
        assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= \"a\" \"a\" ::= \"b\""));
        assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= \"a\"\nroot ::= \"b\""));
        assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= * \"a\""));
        assertThrows(Grammar.GrammarException.class, () -> Grammar.parse(""));
        Grammar.Limits small = new Grammar.Limits(100, 10, 100, 2, 10, 16, 8);
        assertTrue(assertThrows(
                        Grammar.GrammarException.class,
                        () -> Grammar.parse("root ::= \"" + "a".repeat(100) + "\"", small))
                .getMessage()
                .contains("characters"));
        assertTrue(assertThrows(Grammar.GrammarException.class, () -> Grammar.parse("root ::= (((\"a\")))", small))
                .getMessage()
                .contains("nested deeper"));
        assertTrue(assertThrows(
                        Grammar.GrammarException.class, () -> Grammar.parse("root ::= \"a\"{0,10} \"b\"{0,10}", small))
                .getMessage()
                .contains("rules"));
    }
}
