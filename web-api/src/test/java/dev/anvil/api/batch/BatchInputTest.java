package dev.anvil.api.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.api.ApiException;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** JSONL batch input: what is accepted, and that every refusal is a 400 naming the lines and what is wrong. */
class BatchInputTest {

    private static String chat(String id) {
        return "{\"custom_id\":\"" + id + "\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\","
                + "\"body\":{\"model\":\"stories260k\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}";
    }

    private static List<BatchInput.Line> parse(String text) {
        return BatchInput.parse(text.getBytes(StandardCharsets.UTF_8), 100, 4096);
    }

    private static ApiException refused(String text) {
        return assertThrows(ApiException.class, () -> parse(text));
    }

    @Test
    void linesAreNumberedAsInTheFileAndBlankLinesAreSkipped() {
        List<BatchInput.Line> lines = parse(chat("a") + "\r\n\n" + chat("b") + "\n");
        assertEquals(2, lines.size());
        assertEquals(1, lines.get(0).number());
        assertEquals(3, lines.get(1).number());
        assertEquals("b", lines.get(1).customId());
        assertEquals("/v1/chat/completions", lines.get(1).url());
        assertEquals("stories260k", lines.get(1).model());
        assertEquals(chat("a"), lines.get(0).text(), "the carriage return is not part of the stored line");
    }

    @Test
    void badLinesAreNamedByNumber() {
        ApiException e = refused(chat("a") + "\n{not json\n" + chat("c").replace("POST", "GET") + "\n");
        assertEquals(400, e.status());
        assertTrue(e.getMessage().contains("line 2: not valid JSON"), e.getMessage());
        assertTrue(e.getMessage().contains("line 3: 'method' must be \"POST\""), e.getMessage());
    }

    @Test
    void duplicateCustomIdsNameBothLines() {
        ApiException e = refused(chat("x") + "\n" + chat("y") + "\n" + chat("x"));
        assertTrue(e.getMessage().contains("line 3 repeats the custom_id 'x' of line 1"), e.getMessage());
    }

    @Test
    void fieldsAreChecked() {
        assertTrue(refused("{\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{}}")
                .getMessage()
                .contains("'custom_id' must be a string"));
        assertTrue(refused(chat("a").replace("/v1/chat/completions", "/v1/images"))
                .getMessage()
                .contains("'url' must be one of"));
        assertTrue(refused(chat("a").replace("\"model\":\"stories260k\",", ""))
                .getMessage()
                .contains("'body.model' must name a model"));
        assertTrue(refused(chat("a").replace("\"model\"", "\"stream\":true,\"model\""))
                .getMessage()
                .contains("'body.stream' is not supported"));
        assertTrue(refused("[1,2]").getMessage().contains("line 1: not a JSON object"));
    }

    @Test
    void boundsAreEnforced() {
        String many = (chat("a") + "\n").repeat(1);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 3; i++) text.append(chat("id" + i)).append('\n');
        ApiException tooMany = assertThrows(
                ApiException.class, () -> BatchInput.parse(text.toString().getBytes(StandardCharsets.UTF_8), 2, 4096));
        assertTrue(tooMany.getMessage().contains("more than 2 requests"), tooMany.getMessage());
        ApiException tooLong =
                assertThrows(ApiException.class, () -> BatchInput.parse(many.getBytes(StandardCharsets.UTF_8), 10, 64));
        assertTrue(tooLong.getMessage().contains("line 1 is longer than 64 bytes"), tooLong.getMessage());
        assertTrue(refused("\n \n").getMessage().contains("no request line"));
        assertTrue(assertThrows(ApiException.class, () -> BatchInput.parse(new byte[] {(byte) 0xff, 'a'}, 10, 64))
                .getMessage()
                .contains("not UTF-8"));
        String deep = "[".repeat(70) + "]".repeat(70);
        assertTrue(refused(chat("a").replace("\"hi\"", deep)).getMessage().contains("nested deeper"));
    }

    @Test
    void batchChecksNameMismatchedUrlsAndRefusedModels() {
        List<BatchInput.Line> lines = parse(chat("a") + "\n"
                + chat("b").replace("/v1/chat/completions", "/v1/completions") + "\n"
                + chat("c").replace("stories260k", "missing"));
        ApiException e = assertThrows(
                ApiException.class,
                () -> BatchInput.checkFor(
                        lines,
                        "/v1/chat/completions",
                        m -> m.equals("missing") ? "model 'missing' is not served" : null));
        assertEquals("input_file_id", e.param());
        assertTrue(
                e.getMessage()
                        .contains("line 2 has url /v1/completions but the batch's endpoint is /v1/chat/completions"),
                e.getMessage());
        assertTrue(e.getMessage().contains("line 3: model 'missing' is not served"), e.getMessage());
        BatchInput.checkFor(lines.subList(0, 1), "/v1/chat/completions", m -> null); // fits: no exception
    }

    @Test
    void outputLinesHaveOpenAisShape() {
        JsonObject body = Json.createObjectBuilder().add("id", "chatcmpl-1").build();
        JsonObject ok = read(BatchJson.answered("a", 200, "chatcmpl-1", body));
        assertTrue(ok.getString("id").startsWith("batch_req_"));
        assertEquals("a", ok.getString("custom_id"));
        assertEquals(200, ok.getJsonObject("response").getInt("status_code"));
        assertEquals("chatcmpl-1", ok.getJsonObject("response").getString("request_id"));
        assertEquals(body, ok.getJsonObject("response").getJsonObject("body"));
        assertTrue(ok.isNull("error"));
        JsonObject failed = read(BatchJson.failed("b", "request_failed", "connection refused"));
        assertTrue(failed.isNull("response"));
        assertEquals("request_failed", failed.getJsonObject("error").getString("code"));
        assertEquals("connection refused", failed.getJsonObject("error").getString("message"));
    }

    private static JsonObject read(String line) {
        assertNull(line.contains("\n") ? "newline" : null, "an output line is one line");
        return Json.createReader(new StringReader(line)).readObject();
    }
}
