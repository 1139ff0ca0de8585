package dev.anvil.cache;

import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The semantic cache's index: the prompt embedding of each stored response-cache entry of the models the semantic
 * cache serves, searched for the nearest one of a new request. In memory on this server, at most {@code maxEntries}
 * vectors, the least recently used forgotten first (the entries themselves stay in the response cache, reachable by
 * exact key). A vector is only ever compared with vectors of the same group: the same caller scope (tenant), exact
 * model version and generation parameters ({@link ResponseCacheKeys}' parameters digest: sampling, limits, stop,
 * n, log-probabilities, output constraints), so a semantic hit never crosses tenants or answers other parameters.
 * Search is exact (every vector of the group, cosine of unit vectors): with 384-wide vectors and 10,000 entries it is a
 * few million multiply-adds, well under the generation it saves. Thread-safe.
 */
final class SemanticIndex {

    /** Which vectors may answer each other. */
    record Group(String scope, String modelRef, String parametersDigest) {}

    /** The nearest stored entry and its cosine similarity to the query. */
    record Match(String exactKey, double similarity) {}

    private final int maxEntries;
    /** Exact response-cache key → its group, in access order (the eviction order). */
    private final LinkedHashMap<String, Group> lru = new LinkedHashMap<>(256, 0.75f, true);

    private final Map<Group, Map<String, float[]>> groups = new HashMap<>();

    SemanticIndex(int maxEntries) {
        if (maxEntries < 1) throw new IllegalArgumentException("anvil.cache.semantic.max-entries must be >= 1");
        this.maxEntries = maxEntries;
    }

    /** Indexes (or re-indexes) the entry stored under {@code exactKey}; {@code unit} must have length 1. */
    synchronized void add(Group group, String exactKey, float[] unit) {
        remove(exactKey);
        lru.put(exactKey, group);
        groups.computeIfAbsent(group, g -> new HashMap<>()).put(exactKey, unit.clone());
        while (lru.size() > maxEntries) {
            Iterator<Map.Entry<String, Group>> eldest = lru.entrySet().iterator();
            Map.Entry<String, Group> e = eldest.next();
            eldest.remove();
            dropFromGroup(e.getValue(), e.getKey());
        }
    }

    /** The group's entry most similar to {@code unit}, if any has at least {@code minSimilarity}; marks it used. */
    synchronized Match nearest(Group group, float[] unit, double minSimilarity) {
        Map<String, float[]> members = groups.get(group);
        if (members == null) return null;
        String best = null;
        double bestSimilarity = Double.NEGATIVE_INFINITY;
        for (Map.Entry<String, float[]> e : members.entrySet()) {
            float[] v = e.getValue();
            if (v.length != unit.length) continue; // another embedding model's width: never comparable
            double dot = 0;
            for (int i = 0; i < v.length; i++) dot += (double) v[i] * unit[i];
            if (dot > bestSimilarity) {
                bestSimilarity = dot;
                best = e.getKey();
            }
        }
        if (best == null || bestSimilarity < minSimilarity) return null;
        lru.get(best); // access order: a hit keeps its entry
        return new Match(best, Math.min(1.0, bestSimilarity));
    }

    /** Forgets one entry (its response-cache entry is gone). */
    synchronized void remove(String exactKey) {
        Group g = lru.remove(exactKey);
        if (g != null) dropFromGroup(g, exactKey);
    }

    /** Forgets every entry of {@code modelRef} ({@code name@version}). */
    synchronized int invalidate(String modelRef) {
        int removed = 0;
        for (Iterator<Map.Entry<Group, Map<String, float[]>>> it =
                        groups.entrySet().iterator();
                it.hasNext(); ) {
            Map.Entry<Group, Map<String, float[]>> e = it.next();
            if (!e.getKey().modelRef().equals(modelRef)) continue;
            for (String key : e.getValue().keySet()) lru.remove(key);
            removed += e.getValue().size();
            it.remove();
        }
        return removed;
    }

    synchronized int size() {
        return lru.size();
    }

    private void dropFromGroup(Group g, String exactKey) {
        Map<String, float[]> members = groups.get(g);
        if (members == null) return;
        members.remove(exactKey);
        if (members.isEmpty()) groups.remove(g);
    }

    /** {@code v} scaled to length 1 (a zero vector stays zero, and so matches nothing). */
    static float[] unit(float[] v) {
        return dev.anvil.engine.BertEncoder.normalized(v);
    }
}
