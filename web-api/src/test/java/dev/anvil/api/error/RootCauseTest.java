package dev.anvil.api.error;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.bind.JsonbException;
import org.junit.jupiter.api.Test;

class RootCauseTest {

    @Test
    void describeUsesInnermostMessageOnOneLine() {
        Exception chain = new RuntimeException("outer", new IllegalStateException("Unexpected char\n at line 1"));
        assertEquals("Unexpected char at line 1", RootCause.describe(chain));
    }

    @Test
    void describeFallsBackWhenNoMessage() {
        assertEquals("unparseable input", RootCause.describe(new RuntimeException((String) null)));
    }

    @Test
    void describeTruncatesLongMessages() {
        String described = RootCause.describe(new RuntimeException("x".repeat(1000)));
        assertEquals(303, described.length());
        assertTrue(described.endsWith("..."));
    }

    @Test
    void findLocatesWrappedJsonbException() {
        JsonbException jsonb = new JsonbException("bad");
        Exception wrapped = new RuntimeException(new IllegalArgumentException(jsonb));
        assertSame(jsonb, RootCause.find(wrapped, JsonbException.class));
        assertNull(RootCause.find(new RuntimeException("plain"), JsonbException.class));
    }

    @Test
    void ofSurvivesSelfReferencingCause() {
        Exception looping = new Exception("loop") {
            @Override
            public synchronized Throwable getCause() {
                return this;
            }
        };
        assertSame(looping, RootCause.of(looping));
        assertEquals("loop", RootCause.describe(looping));
    }
}
