package dev.anvil.tools.model;

import dev.anvil.engine.Batch;
import dev.anvil.engine.ComputePool;
import dev.anvil.engine.Generation;
import dev.anvil.engine.Grammar;
import dev.anvil.engine.GrammarConstraint;
import dev.anvil.engine.JsonSchemaGrammar;
import dev.anvil.engine.KvCacheFullException;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.SamplingParams;
import dev.anvil.engine.TokenTrie;
import dev.anvil.engine.Tokenizer;
import dev.anvil.tools.CliArgs;
import dev.anvil.tools.CommandFailedException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code anvil grammar-bench}: what constrained decoding costs per step, against the batch-1 decode step of the same
 * model in the same run. A constrained generation runs on the model's real logits (sampled at temperature 1, so it
 * visits the states real output visits, seeded), one forward pass per token; per step it times the forward pass, the
 * token mask as serving computes it (the per-state cache kept across steps and generations, as across requests: a
 * state's first visit walks the trie, later ones hit), and a walk of the vocabulary trie without the cache (what every
 * first visit costs).
 * Generations that finish start over until {@code --steps} steps were measured. Grammars: the built-in
 * {@code json_object}, a JSON Schema ({@code --schema FILE}, default a small person schema) and a GBNF file
 * ({@code --grammar FILE}, optional).
 */
public final class GrammarBenchCommand {

    public static final String USAGE = """
              grammar-bench  per-step cost of constrained decoding (token mask) against the batch-1 decode step
                  --model FILE           model (default: models/stories260K.gguf)
                  --steps N              constrained decode steps measured per grammar (default 128)
                  --schema FILE          JSON Schema to compile (default: a small person schema)
                  --grammar FILE         also a GBNF grammar
                  --threads T            compute threads (default: all processors)
                  --seed S               sampling seed (default 1)
            """;

    static final String DEFAULT_SCHEMA = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\","
            + "\"maxLength\":24},\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":150},\"email\":{\"type\":"
            + "\"string\",\"format\":\"email\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
            + "\"maxItems\":4}},\"required\":[\"name\",\"age\"]}";

    private GrammarBenchCommand() {}

    /** Per-step figures of one grammar, in nanoseconds. */
    record Figures(long[] forward, long[] warmMask, long[] coldMask, long hits, long misses, int generations) {}

    public static int run(String[] args, PrintStream out, PrintStream err) throws IOException {
        CliArgs a =
                new CliArgs(args, Set.of("model", "steps", "schema", "grammar", "threads", "seed"), Set.of(), Set.of());
        Path model = Path.of(a.string("model", GenerateCommand.DEFAULT_MODEL));
        int steps = a.integer("steps", 128, 1, 1 << 20);
        int threads = a.integer("threads", Runtime.getRuntime().availableProcessors(), 1, 1024);
        long seed = a.integer("seed", 1, 0, Integer.MAX_VALUE);
        if (!Files.isRegularFile(model)) throw new CliArgs.UsageException("model file " + model + " does not exist");
        Map<String, Grammar> grammars = new LinkedHashMap<>();
        grammars.put("json_object", JsonSchemaGrammar.jsonObject());
        String schema = a.has("schema") ? Files.readString(Path.of(a.string("schema", null))) : DEFAULT_SCHEMA;
        try {
            grammars.put("json_schema", Grammar.parse(JsonSchemaGrammar.gbnf(schema)));
            if (a.has("grammar"))
                grammars.put("gbnf", Grammar.parse(Files.readString(Path.of(a.string("grammar", null)))));
        } catch (IllegalArgumentException e) {
            throw new CommandFailedException("the grammar does not compile: " + e.getMessage());
        }
        try (LlamaModel m = LlamaModel.load(model, ComputePool.defaultFactory(), threads)) {
            Tokenizer tok = m.tokenizer();
            long t0 = System.nanoTime();
            TokenTrie trie = TokenTrie.of(tok);
            long buildNanos = System.nanoTime() - t0;
            out.printf(
                    "model %s: vocabulary %d tokens, trie of %d nodes built in %.1f ms; %d threads%n",
                    model.getFileName(), tok.vocabSize(), trie.nodeCount(), buildNanos / 1e6, threads);
            // Warm-up: one unmeasured pass of each grammar compiles the JIT's hot paths (forward pass, walk).
            for (Grammar g : grammars.values()) measure(m, g, Math.min(steps, 32), seed + 1000);
            for (Map.Entry<String, Grammar> e : grammars.entrySet()) {
                trie.clearCache();
                Figures f = measure(m, e.getValue(), steps, seed);
                double forward = median(f.forward()) / 1e6;
                out.printf(
                        "%-12s decode step p50 %7.2f ms | mask (serving) p50 %6.3f ms mean %6.3f ms = %5.2f %%"
                                + " | uncached walk p50 %6.3f ms max %6.3f ms = %5.2f %% | %d steps, %d generations,"
                                + " cache %d hits %d misses%n",
                        e.getKey(),
                        forward,
                        median(f.warmMask()) / 1e6,
                        mean(f.warmMask()) / 1e6,
                        100 * mean(f.warmMask()) / 1e6 / forward,
                        median(f.coldMask()) / 1e6,
                        Arrays.stream(f.coldMask()).max().orElse(0) / 1e6,
                        100 * median(f.coldMask()) / 1e6 / forward,
                        f.forward().length,
                        f.generations(),
                        f.hits(),
                        f.misses());
            }
            out.println("(shared host: figures are indicative; the mask runs on one thread per sequence, in parallel"
                    + " with the other sequences' sampling)");
        } catch (KvCacheFullException e) {
            throw new CommandFailedException("the KV cache is too small: " + e.getMessage());
        }
        return 0;
    }

    /** Constrained generations on the model's logits until {@code steps} steps are measured. */
    static Figures measure(LlamaModel m, Grammar grammar, int steps, long seed) throws KvCacheFullException {
        Tokenizer tok = m.tokenizer();
        TokenTrie trie = TokenTrie.of(tok);
        long[] before = trie.cacheCounts();
        List<long[]> rows = new ArrayList<>();
        int generations = 0;
        int context = m.config().contextLength();
        int[] prompt = tok.encode("The answer, as JSON:", tok.addBosByDefault());
        while (rows.size() < steps) {
            generations++;
            KvCachePool kv = m.newKvCachePool(64L << 20);
            KvCachePool.Sequence seq = kv.newSequence();
            int max = Math.max(1, Math.min(steps - rows.size(), context - prompt.length - 1));
            Generation gen = new Generation(
                    tok,
                    prompt,
                    SamplingParams.DEFAULTS.withSeed(seed + generations),
                    max,
                    List.of(),
                    GrammarConstraint.of(grammar));
            kv.reserve(seq, prompt.length);
            float[] logits = m.forward(new Batch().add(seq, 0, prompt)).logits(0);
            while (true) {
                // Serving: the mask with the per-state cache kept across steps and generations (a first visit of a
                // state walks the trie, later ones hit). Cold: the walk alone, what every first visit costs.
                long w0 = System.nanoTime();
                gen.allowedTokens();
                long warm = System.nanoTime() - w0;
                long c0 = System.nanoTime();
                trie.walk(gen.grammarState());
                long cold = System.nanoTime() - c0;
                Generation.Step step = gen.next(logits);
                if (step.finished()) {
                    rows.add(new long[] {-1, warm, cold});
                    break;
                }
                kv.reserve(seq, seq.length() + 1);
                long f0 = System.nanoTime();
                logits = m.forward(new Batch().add(seq, seq.length(), step.token()))
                        .logits(0);
                rows.add(new long[] {System.nanoTime() - f0, warm, cold});
                if (rows.size() >= steps) break;
            }
            kv.free(seq);
        }
        long[] after = trie.cacheCounts();
        long[] forward =
                rows.stream().filter(r -> r[0] >= 0).mapToLong(r -> r[0]).toArray();
        return new Figures(
                forward,
                rows.stream().mapToLong(r -> r[1]).toArray(),
                rows.stream().mapToLong(r -> r[2]).toArray(),
                after[0] - before[0],
                after[1] - before[1],
                generations);
    }

    static double median(long[] v) {
        if (v.length == 0) return Double.NaN;
        long[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    static double mean(long[] v) {
        return Arrays.stream(v).average().orElse(Double.NaN);
    }
}
