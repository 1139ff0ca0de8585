package dev.anvil.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Input of one {@link LlamaModel#forward} pass: any mix of prompt chunks (prefill) and single decode tokens
 * of many sequences. Entry {@code i} feeds {@code tokens} at positions {@code startPosition ..} of its
 * sequence; {@code startPosition} must not exceed what the sequence already holds (equal to continue it,
 * smaller to overwrite a tail), and its KV blocks must already be {@linkplain KvCachePool#reserve reserved}.
 * A sequence may appear at most once per batch.
 */
public final class Batch {

    /**
     * @param sequence      KV state the tokens extend
     * @param startPosition position of {@code tokens[0]}
     * @param tokens        token ids, at least one
     * @param allLogits     return logits for every position (teacher-forced evaluation), not just the last
     */
    public record Entry(KvCachePool.Sequence sequence, int startPosition, int[] tokens, boolean allLogits) {
        public Entry {
            if (sequence == null) throw new IllegalArgumentException("sequence is null");
            if (tokens == null || tokens.length == 0)
                throw new IllegalArgumentException("an entry needs at least one token");
            if (startPosition < 0) throw new IllegalArgumentException("negative start position " + startPosition);
        }
    }

    private final List<Entry> entries = new ArrayList<>();
    private int tokenCount;

    /** Adds a chunk; logits come back for its last token only. */
    public Batch add(KvCachePool.Sequence sequence, int startPosition, int... tokens) {
        return add(new Entry(sequence, startPosition, tokens, false));
    }

    public Batch add(Entry entry) {
        for (Entry e : entries) {
            if (e.sequence() == entry.sequence())
                throw new IllegalArgumentException("sequence appears twice in one batch");
        }
        entries.add(entry);
        tokenCount += entry.tokens().length;
        return this;
    }

    public List<Entry> entries() {
        return Collections.unmodifiableList(entries);
    }

    /** Tokens over all entries: the number of activation rows in the pass. */
    public int tokenCount() {
        return tokenCount;
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }
}
