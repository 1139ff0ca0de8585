package dev.anvil.batch;

import dev.anvil.batch.domain.Batch;
import dev.anvil.batch.domain.BatchFile;
import jakarta.annotation.security.PermitAll;
import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.persistence.PersistenceContext;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Files and batches of the Batch API in the database, each method one transaction. Callers are the web tier (who
 * may see what is its check, by owner key) and the batch job's artifacts (lines read by index, results written with
 * the counts). A line's result is stored at the index of its input line, under the primary key, so a result is
 * written at most once however often a job restarts.
 */
@Stateless
@PermitAll
public class BatchStore {

    @PersistenceContext(unitName = "anvil")
    EntityManager em;

    @Inject
    BatchMetrics metrics;

    /** A line's result for the output file ({@code ok}) or the error file, as the line of JSON OpenAI defines. */
    public record LineResult(int lineIndex, boolean ok, String json) {}

    /** An object id: a prefix and 96 random bits in hex. */
    public static String newId(String prefix) {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        return prefix
                + HexFormat.of().toHexDigits(r.nextLong())
                + HexFormat.of().toHexDigits(r.nextInt());
    }

    /** Stores an uploaded input file and its lines (already validated). */
    public BatchFile createInputFile(Long keyId, String tenant, String filename, long bytes, List<String> lines) {
        BatchFile file =
                new BatchFile(newId("file-"), keyId, tenant, BatchFile.PURPOSE_INPUT, filename, bytes, lines.size());
        em.persist(file);
        for (int i = 0; i < lines.size(); i++) {
            insertLine(file.id(), i, lines.get(i));
        }
        return file;
    }

    private void insertLine(String fileId, int index, String content) {
        em.createNativeQuery("INSERT INTO batch_file_line (file_id, line_index, content) VALUES (?, ?, ?)")
                .setParameter(1, fileId)
                .setParameter(2, index)
                .setParameter(3, content)
                .executeUpdate();
    }

    public Optional<BatchFile> file(String id) {
        return Optional.ofNullable(id == null ? null : em.find(BatchFile.class, id));
    }

    /** The files of one owner, newest first. */
    public List<BatchFile> files(Long keyId, int limit) {
        return em.createQuery(
                        "select f from BatchFile f where " + owner("f") + " order by f.createdAt desc, f.id desc",
                        BatchFile.class)
                .setParameter("key", keyId)
                .setMaxResults(limit)
                .getResultList();
    }

    private static String owner(String alias) {
        return "((:key is null and " + alias + ".ownerKeyId is null) or " + alias + ".ownerKeyId = :key)";
    }

    /** Line {@code index} of a file, or empty when the file (or the line) is gone. */
    public Optional<String> line(String fileId, int index) {
        List<?> rows = em.createNativeQuery("SELECT content FROM batch_file_line WHERE file_id = ? AND line_index = ?")
                .setParameter(1, fileId)
                .setParameter(2, index)
                .getResultList();
        return rows.isEmpty() ? Optional.empty() : Optional.of((String) rows.getFirst());
    }

    /** A stored line and its index. */
    public record IndexedLine(int index, String content) {}

    /** Up to {@code count} lines of a file from line index {@code from} on, in order (downloads read page by page). */
    public List<IndexedLine> lines(String fileId, int from, int count) {
        List<?> rows = em.createNativeQuery("SELECT line_index, content FROM batch_file_line WHERE file_id = ?"
                        + " AND line_index >= ? ORDER BY line_index")
                .setParameter(1, fileId)
                .setParameter(2, from)
                .setMaxResults(count)
                .getResultList();
        List<IndexedLine> lines = new ArrayList<>(rows.size());
        for (Object row : rows) {
            Object[] columns = (Object[]) row;
            lines.add(new IndexedLine(((Number) columns[0]).intValue(), (String) columns[1]));
        }
        return lines;
    }

    /** Deletes a file and its lines; false when there was none. */
    public boolean deleteFile(String id) {
        BatchFile file = em.find(BatchFile.class, id);
        if (file == null) return false;
        em.createNativeQuery("DELETE FROM batch_file_line WHERE file_id = ?")
                .setParameter(1, id)
                .executeUpdate();
        em.remove(file);
        return true;
    }

    /** Unfinished batches of one owner (the bound on concurrent batches per key). */
    public long activeBatches(Long keyId) {
        return em.createQuery(
                        "select count(b) from Batch b where " + owner("b")
                                + " and b.status not in ('completed', 'failed', 'expired', 'cancelled')",
                        Long.class)
                .setParameter("key", keyId)
                .getSingleResult();
    }

    public Batch createBatch(Long keyId, String tenant, String endpoint, BatchFile input, String metadataJson) {
        Batch batch = new Batch(
                newId("batch_"),
                keyId,
                tenant,
                endpoint,
                input.id(),
                metadataJson,
                newId("file-"),
                newId("file-"),
                input.lineCount());
        em.persist(batch);
        metrics.created(endpoint);
        return batch;
    }

    public Optional<Batch> batch(String id) {
        return Optional.ofNullable(id == null ? null : em.find(Batch.class, id));
    }

    /**
     * A page of one owner's batches, newest first: those created before the batch {@code after} (OpenAI's cursor),
     * at most {@code limit}.
     */
    public List<Batch> batches(Long keyId, String after, int limit) {
        return page(true, keyId, after, limit);
    }

    /** A page of every owner's batches, newest first (the operators' view), with the same cursor as {@link #batches}. */
    public List<Batch> allBatches(String after, int limit) {
        return page(false, null, after, limit);
    }

    private List<Batch> page(boolean oneOwner, Long keyId, String after, int limit) {
        Batch cursor = after == null ? null : em.find(Batch.class, after);
        List<String> where = new java.util.ArrayList<>();
        if (oneOwner) where.add(owner("b"));
        if (cursor != null) where.add("(b.createdAt < :created or (b.createdAt = :created and b.id < :id))");
        String query = "select b from Batch b" + (where.isEmpty() ? "" : " where " + String.join(" and ", where))
                + " order by b.createdAt desc, b.id desc";
        var q = em.createQuery(query, Batch.class).setMaxResults(limit);
        if (oneOwner) q.setParameter("key", keyId);
        if (cursor != null) q.setParameter("created", cursor.createdAt()).setParameter("id", cursor.id());
        return q.getResultList();
    }

    /** Batches whose job has not ended (restarted when the server starts). */
    public List<Batch> unfinished() {
        return em.createQuery(
                        "select b from Batch b where b.status in ('validating', 'in_progress', 'finalizing', 'cancelling')"
                                + " order by b.createdAt",
                        Batch.class)
                .getResultList();
    }

    /**
     * The batch row, locked and read afresh: the chunk's transaction may hold an older copy, and the line counter is
     * written by transactions of its own ({@link #lineExecuting}).
     */
    private Batch locked(String id) {
        Batch batch = em.find(Batch.class, id);
        if (batch == null) throw new IllegalArgumentException("no batch " + id);
        em.refresh(batch, LockModeType.PESSIMISTIC_WRITE);
        return batch;
    }

    public Batch started(String id, long executionId) {
        Batch batch = locked(id);
        batch.started(executionId);
        return batch;
    }

    public Optional<Batch> requestCancel(String id) {
        if (em.find(Batch.class, id) == null) return Optional.empty();
        Batch batch = locked(id);
        batch.requestCancel();
        return Optional.of(batch);
    }

    /** Whether the job should stop reading lines: a cancellation was asked, or the completion window passed. */
    public boolean shouldStop(String id) {
        Batch batch = em.find(Batch.class, id);
        return batch == null || batch.cancelRequested() || batch.isTerminal() || batch.isExpired(Instant.now());
    }

    /** Whether the result of input line {@code index} is stored already (then it is never run again). */
    public boolean answered(Batch batch, int index) {
        Number n = (Number) em.createNativeQuery(
                        "SELECT COUNT(*) FROM batch_file_line WHERE file_id IN (?, ?)" + " AND line_index = ?")
                .setParameter(1, batch.outputFileId())
                .setParameter(2, batch.errorFileId())
                .setParameter(3, index)
                .getSingleResult();
        return n.longValue() > 0;
    }

    /** Counts a line about to run through the pipeline, in a transaction of its own (kept if the chunk rolls back). */
    @TransactionAttribute(TransactionAttributeType.REQUIRES_NEW)
    public void lineExecuting(String id) {
        locked(id).lineExecuting();
        metrics.lineExecuted();
    }

    /**
     * Stores results (one chunk of the job) and adds them to the counts; a result whose line has one already (a line
     * finished after the last checkpoint and run again after a crash) is not stored or counted twice.
     */
    public void record(String id, List<LineResult> results) {
        Batch batch = locked(id);
        int ok = 0, errors = 0;
        for (LineResult r : results) {
            if (answered(batch, r.lineIndex())) continue;
            insertLine(r.ok() ? batch.outputFileId() : batch.errorFileId(), r.lineIndex(), r.json());
            if (r.ok()) ok++;
            else errors++;
        }
        batch.recorded(ok, errors);
        metrics.recorded(batch.endpoint(), ok, errors);
    }

    public void finalizing(String id) {
        locked(id).finalizing();
    }

    /**
     * Ends a batch: its output and error files become files of the owner (when they hold lines), and the status
     * follows from how the job ended ({@link Batch#ended}).
     */
    public Batch finish(String id, String error) {
        Batch batch = locked(id);
        if (batch.isTerminal()) return batch;
        batch.finalizing();
        outputFile(batch, batch.outputFileId(), batch.id() + "_output.jsonl");
        outputFile(batch, batch.errorFileId(), batch.id() + "_error.jsonl");
        batch.ended(error);
        metrics.ended(batch.status());
        return batch;
    }

    private void outputFile(Batch batch, String fileId, String name) {
        List<?> rows = em.createNativeQuery("SELECT content FROM batch_file_line WHERE file_id = ?")
                .setParameter(1, fileId)
                .getResultList();
        if (rows.isEmpty() || em.find(BatchFile.class, fileId) != null) return;
        long bytes = 0;
        for (Object row : rows) bytes += ((String) row).getBytes(StandardCharsets.UTF_8).length + 1;
        em.persist(new BatchFile(
                fileId, batch.ownerKeyId(), batch.ownerTenant(), BatchFile.PURPOSE_OUTPUT, name, bytes, rows.size()));
    }
}
