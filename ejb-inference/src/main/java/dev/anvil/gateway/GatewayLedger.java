package dev.anvil.gateway;

import dev.anvil.metrics.MetricMetadata;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.annotation.Resource;
import jakarta.annotation.security.PermitAll;
import jakarta.ejb.ConcurrencyManagement;
import jakarta.ejb.ConcurrencyManagementType;
import jakarta.ejb.Schedule;
import jakarta.ejb.Singleton;
import jakarta.ejb.Startup;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.Date;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;

/**
 * Usage and audit rows, written off the request path: callers only enqueue ({@link #usage}, {@link #audit}: a
 * lock-free offer), and a timer drains the queues every second in JDBC batches of up to
 * {@code anvil.gateway.ledger.batch-size} rows, one transaction per batch. A batch that fails because the database
 * cannot be reached stays queued and is retried at the next tick; beyond {@code anvil.gateway.ledger.max-pending}
 * rows new ones are dropped and counted ({@link #dropped()}) rather than exhaust the heap while the database is down.
 * A batch the database refuses for what it holds is written again row by row, so that one row it can never store
 * drops alone (counted, logged without its text) instead of wedging every row behind it. Text is stored without NUL
 * characters (PostgreSQL's text types cannot hold them; they become U+FFFD) and clipped to its column.
 */
@Singleton
@Startup
@ConcurrencyManagement(ConcurrencyManagementType.BEAN)
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
@PermitAll
public class GatewayLedger {

    private static final Logger LOG = Logger.getLogger(GatewayLedger.class.getName());
    static final int MAX_TEXT = 32000;
    static final int MAX_DETAIL = 4000;

    @Resource(lookup = "java:jboss/datasources/AnvilDS")
    DataSource dataSource;

    @Inject
    GatewayConfig config;

    @Inject
    MetricRegistry registry;

    private final ConcurrentLinkedQueue<UsageEntry> usage = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<AuditEntry> audit = new ConcurrentLinkedQueue<>();
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong written = new AtomicLong();
    private final ReentrantLock flushing = new ReentrantLock();

    /** {@code anvil_gateway_ledger_pending} and {@code anvil_gateway_ledger_dropped}: the queue's health. */
    @PostConstruct
    void registerMetrics() {
        registry.gauge(
                MetricMetadata.of(
                        "anvil.gateway.ledger.pending", "Usage and audit rows waiting to be written", MetricUnits.NONE),
                pending,
                AtomicInteger::get);
        registry.gauge(
                MetricMetadata.of(
                        "anvil.gateway.ledger.dropped",
                        "Usage and audit rows dropped since start (the database could not take them)",
                        MetricUnits.NONE),
                dropped,
                AtomicLong::get);
    }

    public void usage(UsageEntry entry) {
        if (admit()) usage.offer(entry);
    }

    public void audit(AuditEntry entry) {
        if (admit()) audit.offer(entry);
    }

    /** An admin action (no request/response text). */
    public void audit(String actor, String tenant, String action, String target, Integer status, String detail) {
        audit(new AuditEntry(java.time.Instant.now(), actor, tenant, action, target, status, detail, null, null, null));
    }

    public long dropped() {
        return dropped.get();
    }

    public long written() {
        return written.get();
    }

    public int pending() {
        return pending.get();
    }

    private boolean admit() {
        if (pending.incrementAndGet() > config.ledgerMaxPending()) {
            pending.decrementAndGet();
            if (dropped.incrementAndGet() % 1000 == 1) {
                LOG.warning("gateway ledger: " + config.ledgerMaxPending()
                        + " rows wait for the database; dropping new usage/audit rows (" + dropped.get() + " so far)");
            }
            return false;
        }
        return true;
    }

    @Schedule(hour = "*", minute = "*", second = "*", persistent = false, info = "gateway ledger flush")
    void tick() {
        if (flushing.tryLock()) { // a tick that finds a flush running has nothing to add
            try {
                drain();
            } finally {
                flushing.unlock();
            }
        }
    }

    @PreDestroy
    void drainAtShutdown() {
        flush();
    }

    /** Writes everything queued so far (several batches if needed), waiting for a running flush first. */
    public void flush() {
        flushing.lock();
        try {
            drain();
        } finally {
            flushing.unlock();
        }
    }

    private void drain() {
        while (!usage.isEmpty() || !audit.isEmpty()) {
            List<UsageEntry> usageBatch = take(usage, config.ledgerBatchSize());
            List<AuditEntry> auditBatch = take(audit, config.ledgerBatchSize());
            try {
                write(usageBatch, auditBatch);
                pending.addAndGet(-(usageBatch.size() + auditBatch.size()));
                written.addAndGet(usageBatch.size() + auditBatch.size());
            } catch (SQLException | RuntimeException e) {
                if (unreachable(e) || !writeOneByOne(usageBatch, auditBatch)) {
                    // keep the rows for the next tick (their order does not matter: each row carries its time)
                    usage.addAll(usageBatch);
                    audit.addAll(auditBatch);
                    LOG.log(
                            Level.WARNING,
                            "gateway ledger: writing " + usageBatch.size() + " usage and " + auditBatch.size()
                                    + " audit rows failed; retrying at the next tick",
                            e);
                    return;
                }
            }
        }
    }

    /**
     * After the database refused a batch: each row in a transaction of its own. A row refused again is dropped and
     * counted; the rest are written. Returns false (nothing dropped, the rows not yet written left in the lists) when
     * the database stops answering meanwhile, so that the caller keeps them for the next tick.
     */
    private boolean writeOneByOne(List<UsageEntry> usageBatch, List<AuditEntry> auditBatch) {
        List<Object> rows = new ArrayList<>(usageBatch);
        rows.addAll(auditBatch);
        for (Object row : rows) {
            try {
                if (row instanceof UsageEntry u) write(List.of(u), List.of());
                else write(List.of(), List.of((AuditEntry) row));
                written.incrementAndGet();
            } catch (SQLException | RuntimeException e) {
                if (unreachable(e)) {
                    return false;
                }
                dropped.incrementAndGet();
                LOG.log(
                        Level.WARNING,
                        "gateway ledger: the database refuses a " + (row instanceof UsageEntry ? "usage" : "audit")
                                + " row (" + describe(row) + "); dropped: " + e.getMessage());
            }
            pending.decrementAndGet();
            if (row instanceof UsageEntry u) usageBatch.remove(u);
            else auditBatch.remove((AuditEntry) row);
        }
        return true;
    }

    /** What identifies a row in the log: never its request or response text. */
    private static String describe(Object row) {
        return row instanceof UsageEntry u
                ? "request " + u.requestId() + ", tenant " + u.tenant()
                : "action " + ((AuditEntry) row).action() + ", actor " + ((AuditEntry) row).actor();
    }

    /** Whether a failure means the database could not be reached (SQLState class 08), rather than refused the rows. */
    static boolean unreachable(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.sql.SQLTransientConnectionException
                    || t instanceof java.sql.SQLNonTransientConnectionException) {
                return true;
            }
            if (t instanceof SQLException sql) {
                for (SQLException e = sql; e != null; e = e.getNextException()) {
                    if (e.getSQLState() != null && e.getSQLState().startsWith("08")) return true;
                }
                if (sql.getSQLState() == null) return true; // no state: a pool or driver failure, not the row's content
            }
        }
        return !(failure instanceof SQLException);
    }

    private static <T> List<T> take(ConcurrentLinkedQueue<T> queue, int max) {
        List<T> batch = new ArrayList<>();
        T next;
        while (batch.size() < max && (next = queue.poll()) != null) {
            batch.add(next);
        }
        return batch;
    }

    /** One local transaction (NOT_SUPPORTED: the datasource's own commit), two JDBC batches. */
    private void write(List<UsageEntry> usageBatch, List<AuditEntry> auditBatch) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            boolean autoCommit = c.getAutoCommit();
            c.setAutoCommit(false);
            try {
                if (!usageBatch.isEmpty()) {
                    try (PreparedStatement s =
                            c.prepareStatement("INSERT INTO gateway_usage (occurred_at, usage_day, request_id, tenant,"
                                    + " api_key_id, key_prefix, model, model_version, endpoint, prompt_tokens, completion_tokens, cost, latency_ms, outcome,"
                                    + " subject_sha256, trace_id, router, route_reason, route_attempt, baseline_cost)"
                                    + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                        for (UsageEntry u : usageBatch) {
                            s.setObject(1, u.occurredAt().atOffset(ZoneOffset.UTC));
                            s.setDate(
                                    2,
                                    Date.valueOf(u.occurredAt()
                                            .atOffset(ZoneOffset.UTC)
                                            .toLocalDate()));
                            s.setString(3, clip(u.requestId(), 64));
                            s.setString(4, u.tenant());
                            if (u.apiKeyId() == null) s.setNull(5, Types.BIGINT);
                            else s.setLong(5, u.apiKeyId());
                            s.setString(6, u.keyPrefix());
                            s.setString(7, u.model());
                            s.setString(8, u.modelVersion());
                            s.setString(9, clip(u.endpoint(), 64));
                            s.setInt(10, u.promptTokens());
                            s.setInt(11, u.completionTokens());
                            s.setBigDecimal(12, u.cost());
                            s.setLong(13, u.latencyMs());
                            s.setString(14, u.outcome());
                            s.setString(15, u.subjectSha256());
                            s.setString(16, clip(u.traceId(), 32));
                            UsageEntry.Route r = u.route();
                            s.setString(17, r == null ? null : clip(r.router(), 64));
                            s.setString(18, r == null ? null : clip(r.reason(), 64));
                            if (r == null) s.setNull(19, Types.INTEGER);
                            else s.setInt(19, r.attempt());
                            s.setBigDecimal(20, r == null ? null : r.baselineCost());
                            s.addBatch();
                        }
                        s.executeBatch();
                    }
                }
                if (!auditBatch.isEmpty()) {
                    try (PreparedStatement s =
                            c.prepareStatement("INSERT INTO gateway_audit (occurred_at, actor, tenant, action, target,"
                                    + " status, detail, request_text, response_text, trace_id)"
                                    + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                        for (AuditEntry a : auditBatch) {
                            s.setObject(1, a.occurredAt().atOffset(ZoneOffset.UTC));
                            s.setString(2, clip(a.actor(), 128));
                            s.setString(3, clip(a.tenant(), 64));
                            s.setString(4, clip(a.action(), 64));
                            s.setString(5, clip(a.target(), 512));
                            if (a.status() == null) s.setNull(6, Types.INTEGER);
                            else s.setInt(6, a.status());
                            s.setString(7, clip(a.detail(), MAX_DETAIL));
                            s.setString(8, clip(a.requestText(), MAX_TEXT));
                            s.setString(9, clip(a.responseText(), MAX_TEXT));
                            s.setString(10, clip(a.traceId(), 32));
                            s.addBatch();
                        }
                        s.executeBatch();
                    }
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(autoCommit);
            }
        }
    }

    /** {@code text} as a text column can hold it: NUL characters replaced by U+FFFD, at most {@code max} characters. */
    static String clip(String text, int max) {
        if (text == null) return null;
        String clean = text.indexOf('\0') < 0 ? text : text.replace('\0', '\uFFFD');
        return clean.length() <= max ? clean : clean.substring(0, max);
    }
}
