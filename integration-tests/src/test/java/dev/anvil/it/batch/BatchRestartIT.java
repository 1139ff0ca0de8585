package dev.anvil.it.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerProfile;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A batch survives a server restart: its Jakarta Batch job is stopped with the server, and the restarted server
 * (same configuration and database; JBeret's job repository is JDBC on AnvilDS) restarts it from its last checkpoint.
 * Lines answered before the restart are not run again: every generation leaves one usage row, and this server serves
 * nothing but the batch, so the rows count the lines sent through the pipeline. At most one line, the one in progress
 * when the server stopped, may run twice (its answer was not stored yet); a job that started over would run every
 * line answered before the restart again.
 */
@ExtendWith(AnvilServerExtension.class)
@ServerProfile(AnvilServer.Profile.BATCH_RESTART)
class BatchRestartIT {

    private static final Map<String, String> NONE = Map.of();
    private static final int LINES = 600;
    /** Lines answered before the restart, at least: enough that running them again could not hide in the slack of 1. */
    private static final int BEFORE_RESTART = 20;

    @AfterAll
    static void stopServer() {
        AnvilServer.stop(AnvilServer.Profile.BATCH_RESTART);
    }

    private static JsonObject counts(AnvilServer server, String id) {
        return BatchFiles.batch(server, id, NONE).getJsonObject("request_counts");
    }

    /** Generations this server ran since yesterday (UTC), from the usage rows. */
    private static long generations(AnvilServer server) {
        LocalDate today = LocalDate.now(ZoneOffset.UTC);
        HttpResult report = server.get("/api/gateway/usage?from=" + today.minusDays(1) + "&to=" + today);
        assertEquals(200, report.status(), report::toString);
        long requests = 0;
        for (JsonValue line : report.json().getJsonArray("data"))
            requests += line.asJsonObject().getJsonNumber("requests").longValue();
        return requests;
    }

    @Test
    void aRestartedServerResumesTheBatchWithoutRunningAnsweredLinesAgain(AnvilServer server) {
        long before = generations(server);
        List<String> lines = BatchFiles.lines(LINES, i -> BatchFiles.chatLine("r" + i, "Story number " + i, 64));
        String file = BatchFiles.uploaded(server, String.join("\n", lines), NONE);
        String id =
                BatchFiles.created(server, file, "/v1/chat/completions", NONE).getString("id");

        int answered = Eventually.value(
                () -> counts(server, id).getInt("completed"), n -> n >= BEFORE_RESTART, Duration.ofMinutes(3));
        assertTrue(
                answered < LINES, "the batch must still be running when the server stops (answered " + answered + ")");

        server.restart();
        JsonObject resumed = BatchFiles.batch(server, id, NONE);
        int stored = resumed.getJsonObject("request_counts").getInt("completed");
        assertTrue(stored >= answered, "answers stored before the restart are kept: " + resumed);

        JsonObject done = BatchFiles.awaitStatus(server, id, "completed", Duration.ofMinutes(5), NONE);
        assertEquals(LINES, done.getJsonObject("request_counts").getInt("completed"), done::toString);
        assertEquals(0, done.getJsonObject("request_counts").getInt("failed"), done::toString);
        Map<String, JsonObject> output = BatchFiles.fileLines(server, done.getString("output_file_id"), NONE);
        assertEquals(LINES, output.size(), "one answer per custom_id");

        long ran = Eventually.value(() -> generations(server) - before, n -> n >= LINES, Duration.ofSeconds(30));
        assertTrue(
                ran <= LINES + 1,
                ran + " generations for " + LINES + " lines, " + stored + " of them answered before the restart:"
                        + " answered lines ran again");
    }
}
