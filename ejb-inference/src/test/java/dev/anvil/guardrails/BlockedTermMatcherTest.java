package dev.anvil.guardrails;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class BlockedTermMatcherTest {

    @Test
    void matchesWholeWordsCaseInsensitively() {
        BlockedTermMatcher m = BlockedTermMatcher.of(List.of("darn", "project x"));
        assertEquals(
                List.of("blocked_term", "blocked_term"),
                m.find("Darn! The PROJECT X files.").stream()
                        .map(TextSpan::kind)
                        .toList());
        assertEquals(List.of(), m.find("darning socks; project xylophone"));
        assertEquals("[BLOCKED] it", Redaction.apply("darn it", m.find("darn it")));
    }

    @Test
    void prefersTheLongestTermAndIsLiteral() {
        BlockedTermMatcher m = BlockedTermMatcher.of(List.of("bad", "bad idea", "a.b"));
        List<TextSpan> spans = m.find("a bad idea, not axb but a.b");
        assertEquals(2, spans.size());
        assertEquals(2, spans.get(0).start());
        assertEquals(10, spans.get(0).end());
        assertEquals(
                "a.b",
                "a bad idea, not axb but a.b"
                        .substring(spans.get(1).start(), spans.get(1).end()));
        assertEquals(8, m.longestTerm());
    }

    @Test
    void emptyListMatchesNothing() {
        BlockedTermMatcher m = BlockedTermMatcher.of(List.of(" ", ""));
        assertTrue(m.isEmpty());
        assertEquals(List.of(), m.find("anything"));
    }
}
