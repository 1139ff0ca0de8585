package dev.anvil.engine;

/**
 * One forward pass flattened for a device: token {@code t} of the batch has id {@code tokens[t]} at position
 * {@code pos[t]} of its sequence; per layer group {@code g} of the KV pool ({@link KvCachePool.Layout}),
 * {@code blockOf[g][t]} is the block its key and value go to, and its sequence's block table is
 * {@code tables[g][tableStart[g][t] ..]} (position {@code p} in block {@code tables[g][tableStart[g][t] + p / 16]}).
 * Tokens of one sequence share one copy of its table. {@code logitRows} are the tokens whose logits are wanted.
 */
public record DeviceBatch(
        int[] tokens, int[] pos, int[] logitRows, int[][] blockOf, int[][] tables, int[][] tableStart) {

    /**
     * Flattens tokens of sequences {@code seqOf} (all of one pool) at positions {@code pos}: what {@link
     * LlamaModel#forward} hands a {@link DeviceBackend}. A table entry of -1 is a block a sliding layer released.
     */
    static DeviceBatch of(int[] tokens, int[] pos, KvCachePool.Sequence[] seqOf, int[] logitRows) {
        int T = tokens.length;
        KvCachePool pool = seqOf[0].pool();
        int groups = pool.layout().groups();
        int[][] blockOf = new int[groups][T], tables = new int[groups][], tableStart = new int[groups][T];
        for (int g = 0; g < groups; g++) {
            int size = 0;
            for (int t = 0; t < T; t++)
                if (t == 0 || seqOf[t] != seqOf[t - 1]) size += blocksUsed(seqOf[t], g, pos, t, seqOf);
            int[] flat = new int[size];
            int at = 0, start = 0;
            for (int t = 0; t < T; t++) {
                if (seqOf[t].pool() != pool) throw new IllegalArgumentException("a batch's sequences share one pool");
                if (t == 0 || seqOf[t] != seqOf[t - 1]) {
                    int n = blocksUsed(seqOf[t], g, pos, t, seqOf);
                    System.arraycopy(seqOf[t].table(g), 0, flat, at, n);
                    start = at;
                    at += n;
                }
                tableStart[g][t] = start;
                blockOf[g][t] = flat[start + pos[t] / KvCachePool.BLOCK_TOKENS];
            }
            tables[g] = flat;
        }
        return new DeviceBatch(tokens, pos, logitRows, blockOf, tables, tableStart);
    }

    /** Table entries a sequence's run of tokens starting at {@code t} reads: up to its last position's block. */
    private static int blocksUsed(KvCachePool.Sequence s, int g, int[] pos, int t, KvCachePool.Sequence[] seqOf) {
        int last = t;
        while (last + 1 < seqOf.length && seqOf[last + 1] == s) last++;
        return pos[last] / KvCachePool.BLOCK_TOKENS + 1;
    }
}
