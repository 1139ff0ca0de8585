package dev.anvil.api.error;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.JsonException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class JsonDepthLimitTest {

    private static byte[] readThrough(String body, int limit) throws IOException {
        try (InputStream in = new JsonDepthLimit.DepthCheckingStream(
                new ByteArrayInputStream(body.getBytes(StandardCharsets.UTF_8)), limit)) {
            return in.readAllBytes();
        }
    }

    @Test
    void bodiesWithinTheLimitPassUnchanged() throws IOException {
        String body = "{\"a\":[[[1]]],\"b\":{\"c\":{}}}";
        assertArrayEquals(body.getBytes(StandardCharsets.UTF_8), readThrough(body, 4));
        // Brackets inside strings (escaped quotes included) are text, not nesting.
        String text = "{\"s\":\"[[[[[[ \\\" {{{{{{ \\\\\",\"t\":[\"]]]]\"]}";
        assertArrayEquals(text.getBytes(StandardCharsets.UTF_8), readThrough(text, 2));
    }

    @Test
    void deeperBodiesAreRefusedAsJsonErrors() {
        JsonException e = assertThrows(
                JsonException.class, () -> readThrough("{\"a\":" + "[".repeat(50_000) + "]".repeat(50_000) + "}", 128));
        assertTrue(
                e.getMessage().contains("deeper than 128") && e.getMessage().contains("anvil.api.max-json-depth"),
                e.getMessage());
        assertThrows(JsonException.class, () -> readThrough("[[[[[", 4));
    }
}
