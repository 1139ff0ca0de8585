package dev.anvil.engine;

/** Logits produced by one {@link LlamaModel#forward} pass, indexed like the batch's entries. */
public final class ForwardResult {
    private final float[][][] logits; // [entry][returned position][vocab]
    private final Batch batch;

    ForwardResult(Batch batch, float[][][] logits) {
        this.batch = batch;
        this.logits = logits;
    }

    /** Logits after the last token of entry {@code entry} (the distribution of the next token). */
    public float[] logits(int entry) {
        float[][] rows = logits[entry];
        return rows[rows.length - 1];
    }

    /**
     * Logits after token {@code tokenIndex} of entry {@code entry}; needs {@link Batch.Entry#allLogits()}
     * unless {@code tokenIndex} is the last token.
     */
    public float[] logits(int entry, int tokenIndex) {
        float[][] rows = logits[entry];
        int n = batch.entries().get(entry).tokens().length;
        if (tokenIndex < 0 || tokenIndex >= n) throw new IndexOutOfBoundsException("token " + tokenIndex + " of " + n);
        if (rows.length == 1) {
            if (tokenIndex != n - 1) throw new IllegalStateException("entry " + entry + " was not run with allLogits");
            return rows[0];
        }
        return rows[tokenIndex];
    }

    public int entryCount() {
        return logits.length;
    }
}
