package dev.anvil.api.batch;

import dev.anvil.batch.BatchStore;
import dev.anvil.batch.domain.Batch;
import jakarta.batch.api.BatchProperty;
import jakarta.batch.api.chunk.AbstractItemReader;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.Dependent;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import java.io.Serializable;

/**
 * The chunk step's reader: the batch's input lines by index. Its checkpoint is the index of the next line, saved by
 * Jakarta Batch with each chunk, so a restarted job goes on after the last committed chunk. It stops early (the step
 * ends, the job finalizes) when the batch is cancelled or its completion window has passed.
 */
@Named("batchLineReader")
@Dependent
public class BatchLineReader extends AbstractItemReader {

    /** One input line: its index in the file and its text. */
    public record Item(int index, String text) implements Serializable {}

    @Inject
    @BatchProperty(name = "batchId")
    String batchId;

    @EJB
    BatchStore store;

    private Batch batch;
    private int next;

    @Override
    public void open(Serializable checkpoint) {
        batch = store.batch(batchId).orElseThrow(() -> new IllegalStateException("no batch " + batchId));
        next = checkpoint instanceof Integer index ? index : 0;
    }

    @Override
    public Object readItem() {
        if (next >= batch.total() || store.shouldStop(batchId)) return null;
        int index = next++;
        String text = store.line(batch.inputFileId(), index)
                .orElseThrow(() -> new IllegalStateException("line " + (index + 1) + " of the input file "
                        + batch.inputFileId() + " is gone (file deleted)"));
        return new Item(index, text);
    }

    @Override
    public Serializable checkpointInfo() {
        return next;
    }
}
