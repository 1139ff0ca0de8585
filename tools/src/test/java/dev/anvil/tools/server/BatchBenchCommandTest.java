package dev.anvil.tools.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.tools.JsonText;
import jakarta.json.JsonObject;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BatchBenchCommandTest {

    @Test
    void theInputIsOneDistinctChatRequestALineAsTheBatchApiReadsThem() {
        List<String> lines =
                BatchBenchCommand.input("stories\"260k", 250, 32, "r1").lines().toList();
        assertEquals(250, lines.size());
        Set<String> ids = new HashSet<>();
        Set<String> prompts = new HashSet<>();
        for (String line : lines) {
            JsonObject o = JsonText.object(line);
            ids.add(o.getString("custom_id"));
            assertEquals("POST", o.getString("method"));
            assertEquals("/v1/chat/completions", o.getString("url"));
            JsonObject body = o.getJsonObject("body");
            assertEquals("stories\"260k", body.getString("model"), "the model name is JSON-escaped");
            assertEquals(32, body.getInt("max_tokens"));
            prompts.add(body.getJsonArray("messages").getJsonObject(0).getString("content"));
        }
        assertEquals(250, ids.size(), "custom_id is unique per line");
        assertEquals(250, prompts.size(), "distinct prompts: no response cache answers a line");
        assertTrue(lines.getFirst().startsWith("{\"custom_id\":\"line-1\""));
        assertTrue(
                !BatchBenchCommand.input("m", 1, 8, "r2").equals(BatchBenchCommand.input("m", 1, 8, "r1")),
                "another run's lines differ: the response cache cannot answer them");
    }

    @Test
    void aBatchIsOverOnlyInATerminalStatus() {
        for (String s : List.of("completed", "failed", "expired", "cancelled")) {
            assertTrue(new BatchBenchCommand.BatchState(s, 1, 1, 0, 0).over(), s);
        }
        for (String s : List.of("validating", "in_progress", "finalizing", "cancelling")) {
            assertTrue(!new BatchBenchCommand.BatchState(s, 1, 0, 0, 0).over(), s);
        }
        assertEquals(5, new BatchBenchCommand.BatchState("in_progress", 9, 3, 2, 0).done());
    }
}
