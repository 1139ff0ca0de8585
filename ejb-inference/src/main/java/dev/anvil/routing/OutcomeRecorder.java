package dev.anvil.routing;

import dev.anvil.experiments.ExperimentsConfig;
import dev.anvil.experiments.OutcomeStore;
import dev.anvil.experiments.PendingOutcome;
import dev.anvil.experiments.PendingShadowComparison;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.annotation.Resource;
import jakarta.ejb.EJB;
import jakarta.enterprise.concurrent.ManagedScheduledExecutorService;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Takes experiment measurements off the request path: {@link #record} only offers to a bounded queue (a full queue
 * drops the measurement and counts it, it never slows a response), and a container-managed scheduled task writes
 * what is queued in batches, each in one transaction.
 */
@ApplicationScoped
public class OutcomeRecorder {

    private static final Logger LOG = Logger.getLogger(OutcomeRecorder.class.getName());
    static final int BATCH = 500;
    static final long FLUSH_INTERVAL_MS = 200;

    @Resource
    ManagedScheduledExecutorService scheduler;

    @EJB
    OutcomeStore store;

    @Inject
    ExperimentsConfig config;

    @Inject
    ExperimentMetrics metrics;

    private BlockingQueue<Object> queue;
    private ScheduledFuture<?> flusher;
    private final AtomicLong dropped = new AtomicLong();

    @PostConstruct
    void start() {
        queue = new ArrayBlockingQueue<>(config.outcomeQueue());
        flusher = scheduler.scheduleWithFixedDelay(
                this::flush, FLUSH_INTERVAL_MS, FLUSH_INTERVAL_MS, TimeUnit.MILLISECONDS);
    }

    @PreDestroy
    void stop() {
        if (flusher != null) flusher.cancel(false);
        flush();
    }

    public void record(PendingOutcome outcome) {
        offer(outcome);
    }

    public void record(PendingShadowComparison comparison) {
        offer(comparison);
    }

    private void offer(Object item) {
        if (!queue.offer(item)) {
            dropped.incrementAndGet();
            metrics.dropped();
        }
    }

    /** Measurements dropped since start because the queue was full. */
    public long dropped() {
        return dropped.get();
    }

    /** Writes everything queued, in batches; a failed batch is logged and counted as dropped. */
    synchronized void flush() {
        List<Object> batch = new ArrayList<>();
        while (queue.drainTo(batch, BATCH) > 0) {
            List<PendingOutcome> outcomes = new ArrayList<>();
            List<PendingShadowComparison> comparisons = new ArrayList<>();
            for (Object o : batch) {
                if (o instanceof PendingOutcome p) outcomes.add(p);
                else comparisons.add((PendingShadowComparison) o);
            }
            try {
                store.write(outcomes, comparisons);
            } catch (RuntimeException e) {
                LOG.log(
                        Level.WARNING,
                        "writing " + batch.size() + " experiment measurements failed; they are dropped",
                        e);
                dropped.addAndGet(batch.size());
                for (int i = 0; i < batch.size(); i++) metrics.dropped();
            }
            batch.clear();
        }
    }
}
