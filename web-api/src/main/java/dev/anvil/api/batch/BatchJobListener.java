package dev.anvil.api.batch;

import dev.anvil.batch.BatchStore;
import jakarta.batch.api.BatchProperty;
import jakarta.batch.api.listener.AbstractJobListener;
import jakarta.batch.runtime.BatchStatus;
import jakarta.batch.runtime.context.JobContext;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.Dependent;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import java.util.logging.Logger;

/**
 * The job's start and end: the batch is {@code in_progress} under this execution, and when the job ends it is
 * finalized (output files, final status). A job that ends because the server stops is left unfinished: it is
 * restarted from its checkpoint when the server starts again ({@link BatchJobs}).
 */
@Named("batchJobListener")
@Dependent
public class BatchJobListener extends AbstractJobListener {

    private static final Logger LOG = Logger.getLogger(BatchJobListener.class.getName());

    @Inject
    @BatchProperty(name = "batchId")
    String batchId;

    @Inject
    JobContext job;

    @EJB
    BatchStore store;

    @Inject
    BatchLineRunner runner;

    @Override
    public void beforeJob() {
        store.started(batchId, job.getExecutionId());
    }

    @Override
    public void afterJob() {
        BatchStatus status = job.getBatchStatus();
        boolean interrupted = BatchLineProcessor.PAUSED.equals(job.getTransientUserData());
        if (interrupted || runner.stopping() || status == BatchStatus.STOPPING || status == BatchStatus.STOPPED) {
            LOG.info(() -> "batch " + batchId + " paused (" + status + "); it resumes when the server starts");
            return;
        }
        String error = status == BatchStatus.FAILED
                ? "the batch job failed" + (job.getExitStatus() == null ? "" : ": " + job.getExitStatus())
                : null;
        store.finish(batchId, error);
    }
}
