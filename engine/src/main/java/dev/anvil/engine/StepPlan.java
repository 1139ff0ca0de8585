package dev.anvil.engine;

import dev.anvil.engine.Scheduler.Seq;
import java.util.List;

/**
 * What one scheduler step runs, decided by {@link StepPlanner} before the forward pass: for each sequence in the
 * batch the positions {@code [from, to)} of its tokens to feed (one decode token, or a prefill chunk), in batch
 * order; the KV blocks for them are already reserved.
 *
 * @param chunks           the batch, in order; empty when there is nothing to run
 * @param preemptions      running sequences preempted while planning (their blocks freed, back at the queue's front)
 * @param recomputedTokens tokens of readmitted preempted sequences that are computed again
 * @param prefixQueriedTokens prompt tokens of sequences admitted for the first time, looked up in the prefix cache
 * @param prefixHitTokens  of those, tokens found there (not computed)
 */
record StepPlan(
        List<Chunk> chunks, int preemptions, long recomputedTokens, long prefixQueriedTokens, long prefixHitTokens) {

    /**
     * Positions {@code [from, to)} of {@code seq}'s tokens go into this step's forward pass, followed by up to
     * {@code drafts} speculative tokens (a decoding sequence only; KV room for them is reserved too).
     */
    record Chunk(Seq seq, int from, int to, int drafts) {
        Chunk(Seq seq, int from, int to) {
            this(seq, from, to, 0);
        }
    }

    StepPlan {
        chunks = List.copyOf(chunks);
    }

    boolean isEmpty() {
        return chunks.isEmpty();
    }
}
