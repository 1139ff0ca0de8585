package dev.anvil.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ComplexityTest {

    @Test
    void aShortPlainPromptIsSimple() {
        double s = Complexity.score("Tell me a story about a cat");
        assertTrue(s < 0.05, "score " + s);
        assertEquals(0, Complexity.score(""));
        assertEquals(0, Complexity.score(null));
    }

    @Test
    void eachSignalAddsItsShare() {
        String base = "Tell me about the cat";
        double plain = Complexity.score(base);
        assertEquals(plain + 0.2, Complexity.score(base + " and explain why"), 0.01);
        assertEquals(plain + 0.2, Complexity.score(base + "\n```\nint x = 1;\n```"), 0.05);
        assertEquals(plain + 0.1, Complexity.score("Is it a cat? Or a dog?"), 0.05);
        assertTrue(Complexity.score("12*34+56/7=?") >= 0.1);
    }

    @Test
    void reasoningWordsCountAsWholeWordsAndAreCapped() {
        assertEquals(Complexity.score("whyever"), Complexity.score("whatever"), 1e-9);
        double many = Complexity.score("why explain prove derive analyze compare evaluate justify");
        assertTrue(many <= 0.3 + 0.3 * 8 / 400.0 + 1e-9, "capped: " + many);
    }

    @Test
    void lengthCountsUpToItsShareAndTheScoreStaysInRange() {
        String words = "word ".repeat(400);
        assertEquals(0.3, Complexity.score(words), 1e-9);
        assertEquals(0.3, Complexity.score(words.repeat(10)), 1e-9);
        String everything = "why explain prove? how? ```code``` 1+2=3 ".repeat(500);
        double s = Complexity.score(everything);
        assertTrue(s <= 1.0 && s >= 0.9, "score " + s);
    }

    @Test
    void aCallIsAWordCharacterAnOpeningParenthesisAndALaterClosingOne() {
        for (String line : new String[] {
            "print(x)", "a = f(b, c);", "x_1(", "(x)", "f )(", "call f (x)", "é(x)", "9(x) and more", "", "()", "a()"
        }) {
            assertEquals(line.matches(".*\\w\\(.*\\).*"), Complexity.looksLikeCall(line), () -> "'" + line + "'");
        }
        // A caller's long line of unclosed calls is one pass, not a backtracking search.
        assertFalse(Complexity.looksLikeCall("a(".repeat(10_000)));
        assertTrue(Complexity.looksLikeCall("a(".repeat(10_000) + ")"));
    }
}
