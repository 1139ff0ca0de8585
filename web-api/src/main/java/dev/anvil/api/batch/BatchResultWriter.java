package dev.anvil.api.batch;

import dev.anvil.batch.BatchStore;
import jakarta.batch.api.BatchProperty;
import jakarta.batch.api.chunk.AbstractItemWriter;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.Dependent;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import java.util.ArrayList;
import java.util.List;

/** The chunk step's writer: a chunk's results into the output and error files, with the counts, in its transaction. */
@Named("batchResultWriter")
@Dependent
public class BatchResultWriter extends AbstractItemWriter {

    @Inject
    @BatchProperty(name = "batchId")
    String batchId;

    @EJB
    BatchStore store;

    @Override
    public void writeItems(List<Object> items) {
        List<BatchStore.LineResult> results = new ArrayList<>(items.size());
        for (Object item : items) results.add((BatchStore.LineResult) item);
        store.record(batchId, results);
    }
}
