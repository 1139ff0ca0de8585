package dev.anvil.batch.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** A batch's lifecycle: OpenAI's statuses in order, final statuses that never change, counts within the total. */
class BatchTest {

    private static Batch batch(int lines) {
        return new Batch("batch_1", 7L, "acme", "/v1/chat/completions", "file-1", null, "file-o", "file-e", lines);
    }

    @Test
    void runsToCompleted() {
        Batch b = batch(3);
        assertEquals(Batch.VALIDATING, b.status());
        b.started(11);
        assertEquals(Batch.IN_PROGRESS, b.status());
        assertEquals(11L, b.jobExecutionId());
        b.recorded(2, 1);
        b.finalizing();
        assertEquals(Batch.FINALIZING, b.status());
        b.ended(null);
        assertEquals(Batch.COMPLETED, b.status());
        assertTrue(b.isTerminal());
        assertFalse(b.requestCancel(), "a completed batch cannot be cancelled");
        b.ended("late failure");
        assertEquals(Batch.COMPLETED, b.status(), "a final status never changes");
    }

    @Test
    void restartKeepsTheBatchInProgress() {
        Batch b = batch(2);
        b.started(1);
        b.started(2);
        assertEquals(Batch.IN_PROGRESS, b.status());
        assertEquals(2L, b.jobExecutionId());
    }

    @Test
    void cancellation() {
        Batch b = batch(5);
        b.started(1);
        assertTrue(b.requestCancel());
        assertEquals(Batch.CANCELLING, b.status());
        b.ended(null);
        assertEquals(Batch.CANCELLED, b.status());
    }

    @Test
    void failure() {
        Batch b = batch(5);
        b.started(1);
        b.ended("the batch job failed");
        assertEquals(Batch.FAILED, b.status());
        assertEquals("the batch job failed", b.errorMessage());
    }

    @Test
    void countsStayWithinTheTotal() {
        Batch b = batch(2);
        b.recorded(2, 0);
        assertThrows(IllegalStateException.class, () -> b.recorded(0, 1));
        assertThrows(
                IllegalArgumentException.class, () -> new Batch("b", null, null, "/v1/images", "f", null, "o", "e", 1));
    }
}
