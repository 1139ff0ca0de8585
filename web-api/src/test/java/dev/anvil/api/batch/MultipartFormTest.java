package dev.anvil.api.batch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.api.ApiException;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The multipart/form-data reader of uploads: fields, file names, binary content, bounds and malformed bodies. */
class MultipartFormTest {

    private static final String TYPE = "multipart/form-data; boundary=----xyz";

    private static byte[] body(String file) {
        return ("------xyz\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
                        + "------xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
                        + "Content-Type: application/octet-stream\r\n\r\n" + file + "\r\n------xyz--\r\n")
                .getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void readsFieldsAndFiles() {
        MultipartForm form = MultipartForm.read(new ByteArrayInputStream(body("a\r\nb\n")), TYPE, 10_000);
        assertEquals("batch", form.part("purpose").text());
        assertNull(form.part("purpose").filename());
        assertEquals("in.jsonl", form.part("file").filename());
        assertArrayEquals(
                "a\r\nb\n".getBytes(StandardCharsets.UTF_8), form.part("file").content());
        assertNull(form.part("other"));
    }

    @Test
    void quotedBoundary() {
        MultipartForm form = MultipartForm.read(
                new ByteArrayInputStream(body("x")), "multipart/form-data; boundary=\"----xyz\"", 10_000);
        assertEquals("x", form.part("file").text());
    }

    @Test
    void refusals() {
        ApiException large = assertThrows(
                ApiException.class,
                () -> MultipartForm.read(new ByteArrayInputStream(body("x".repeat(500))), TYPE, 100));
        assertEquals(413, large.status());
        assertEquals(
                400,
                assertThrows(
                                ApiException.class,
                                () -> MultipartForm.read(new ByteArrayInputStream(body("x")), "application/json", 1000))
                        .status());
        byte[] unclosed = "------xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"
                .getBytes(StandardCharsets.UTF_8);
        ApiException e = assertThrows(
                ApiException.class, () -> MultipartForm.read(new ByteArrayInputStream(unclosed), TYPE, 1000));
        assertTrue(e.getMessage().contains("not closed by the boundary"), e.getMessage());
        byte[] nameless =
                "------xyz\r\nContent-Type: text/plain\r\n\r\nabc\r\n------xyz--".getBytes(StandardCharsets.UTF_8);
        assertTrue(assertThrows(
                        ApiException.class, () -> MultipartForm.read(new ByteArrayInputStream(nameless), TYPE, 1000))
                .getMessage()
                .contains("no Content-Disposition name"));
    }
}
