package dev.anvil.api.batch;

import dev.anvil.batch.BatchStore;
import dev.anvil.batch.domain.Batch;
import jakarta.batch.api.BatchProperty;
import jakarta.batch.api.chunk.ItemProcessor;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.Dependent;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.StringReader;

/**
 * The chunk step's processor: runs one input line through the serving pipeline ({@link BatchLineRunner}) and turns
 * the answer into its output or error line. A line whose result is stored already (it finished after the last
 * checkpoint, before a crash) is skipped, so no stored line is ever run twice.
 */
@Named("batchLineProcessor")
@Dependent
public class BatchLineProcessor implements ItemProcessor {

    @Inject
    @BatchProperty(name = "batchId")
    String batchId;

    @EJB
    BatchStore store;

    @Inject
    BatchLineRunner runner;

    @Inject
    jakarta.batch.runtime.context.JobContext job;

    /** The job's transient user data once a line was interrupted by a stopping server or job. */
    static final String PAUSED = "paused";

    private Batch batch;

    @Override
    public Object processItem(Object item) {
        BatchLineReader.Item line = (BatchLineReader.Item) item;
        if (batch == null) batch = store.batch(batchId).orElseThrow();
        if (store.answered(batch, line.index())) return null;
        JsonObject request;
        try (var reader = Json.createReader(new StringReader(line.text()))) {
            request = reader.readObject(); // checked at upload
        }
        String customId = request.getString("custom_id");
        store.lineExecuting(batchId);
        try {
            BatchLineRunner.Answer answer = runner.run(
                    batchId,
                    batch.endpoint(),
                    request.getJsonObject("body"),
                    () -> job.getBatchStatus() == jakarta.batch.runtime.BatchStatus.STOPPING);
            boolean ok = answer.status() / 100 == 2;
            return new BatchStore.LineResult(
                    line.index(), ok, BatchJson.answered(customId, answer.status(), answer.requestId(), answer.body()));
        } catch (BatchLineRunner.Interrupted e) {
            // not a result: the chunk fails, the job is paused (BatchJobListener) and the line runs when it resumes
            job.setTransientUserData(PAUSED);
            throw e;
        } catch (RuntimeException e) {
            String message = e.getCause() != null ? e.getCause().toString() : e.toString();
            return new BatchStore.LineResult(
                    line.index(), false, BatchJson.failed(customId, "request_failed", message));
        }
    }
}
