package dev.anvil.api.batch;

import dev.anvil.batch.BatchConfig;
import dev.anvil.batch.BatchStore;
import dev.anvil.batch.domain.Batch;
import jakarta.annotation.Resource;
import jakarta.batch.operations.JobOperator;
import jakarta.batch.runtime.BatchRuntime;
import jakarta.batch.runtime.BatchStatus;
import jakarta.batch.runtime.JobExecution;
import jakarta.ejb.EJB;
import jakarta.enterprise.concurrent.ManagedScheduledExecutorService;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Initialized;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.Properties;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Starts batch jobs (Jakarta Batch, WildFly's JBeret: job {@value #JOB}, {@code META-INF/batch-jobs}) and resumes
 * those a stopped server left unfinished. JBeret's job repository is JDBC on AnvilDS (server-config), so executions
 * and their checkpoints outlive the server: when it has started again, each unfinished batch's latest execution is
 * restarted ({@code jberet.restart.mode=force}: an execution the old server left STARTED counts as crashed) and goes
 * on after its last checkpoint.
 */
@ApplicationScoped
public class BatchJobs {

    static final String JOB = "anvil-batch";
    private static final Logger LOG = Logger.getLogger(BatchJobs.class.getName());

    @EJB
    BatchStore store;

    @Inject
    BatchConfig config;

    @EJB
    dev.anvil.serving.ServingLifecycle serving;

    @Resource
    ManagedScheduledExecutorService scheduler;

    private volatile ScheduledFuture<?> resumer;

    void onStart(@Observes @Initialized(ApplicationScoped.class) Object ignored) {
        // the jobs call this server's own endpoint: wait until it serves its models, then resume what is unfinished
        resumer = scheduler.scheduleWithFixedDelay(this::resumeWhenRunning, 1, 1, TimeUnit.SECONDS);
    }

    private void resumeWhenRunning() {
        // the lines need their models: a line sent before the PRODUCTION versions are loaded would be a 404
        if (!BatchLineRunner.serverRunning() || !serving.initialSyncDone()) return;
        resumer.cancel(false);
        for (Batch batch : store.unfinished()) {
            try {
                resume(batch);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "batch " + batch.id() + " could not be resumed", e);
            }
        }
    }

    private Properties parameters(String batchId) {
        Properties p = new Properties();
        p.setProperty("batchId", batchId);
        p.setProperty("checkpointLines", Integer.toString(config.checkpointLines()));
        return p;
    }

    /** Starts the job of a new batch. */
    void start(Batch batch) {
        long execution = BatchRuntime.getJobOperator().start(JOB, parameters(batch.id()));
        store.started(batch.id(), execution);
    }

    private void resume(Batch batch) {
        JobOperator operator = BatchRuntime.getJobOperator();
        if (batch.jobExecutionId() == null) {
            start(batch);
            return;
        }
        long execution;
        try {
            JobExecution last = operator.getJobExecution(batch.jobExecutionId());
            if (last.getBatchStatus() == BatchStatus.COMPLETED) {
                store.finish(batch.id(), null); // the job ended but the batch was not finalized before the stop
                return;
            }
            Properties p = parameters(batch.id());
            p.setProperty("jberet.restart.mode", "force");
            execution = operator.restart(batch.jobExecutionId(), p);
        } catch (jakarta.batch.operations.BatchRuntimeException e) {
            // the repository lost the execution (or refuses its restart): a new job, which skips every stored line
            LOG.log(
                    Level.WARNING,
                    "batch " + batch.id() + ": execution " + batch.jobExecutionId()
                            + " cannot be restarted, starting the job again",
                    e);
            start(batch);
            return;
        }
        store.started(batch.id(), execution);
        LOG.info(() -> "batch " + batch.id() + " resumed from its last checkpoint (execution " + execution + ")");
    }
}
