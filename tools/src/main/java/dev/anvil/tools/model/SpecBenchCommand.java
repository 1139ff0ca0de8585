package dev.anvil.tools.model;

import dev.anvil.engine.ComputePool;
import dev.anvil.engine.Generation;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.SamplingParams;
import dev.anvil.engine.Scheduler;
import dev.anvil.engine.SequenceListener;
import dev.anvil.engine.SequenceOutcome;
import dev.anvil.engine.SequenceRequest;
import dev.anvil.engine.Speculation;
import dev.anvil.tools.CliArgs;
import dev.anvil.tools.CommandFailedException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * {@code anvil spec-bench}: batch-1 decode tokens/s on the engine's scheduler without speculation, with prompt lookup
 * ({@code ngram}) and, given {@code --draft}, with a draft model, alternating round by round in one process (so drift
 * of a shared machine does not favour one) after an unmeasured warm-up round, every other round in reverse order; with each setting's acceptance rate and whether its tokens are those of
 * the run without speculation (greedy: they must be).
 *
 * <p>Decode tokens/s is (tokens - 1) / (time from the first generated token to the last): prefill is not in it; TTFT
 * (submission to first token: the prompt's prefill, the draft model's included) is printed beside it. The
 * workloads, with fixed pseudo-random token ids so nothing depends on the tokenizer:
 * <ul>
 *   <li>{@code lookup}: an extraction-shaped prompt, the text the output should repeat followed by the request:
 *       {@code S + G + S}, where S is a random seed prompt and G the model's own greedy continuation of S (computed
 *       first, without speculation). How much of the output repeats G is up to the model; the acceptance rate printed
 *       says how much did.
 *   <li>{@code plain}: the random seed prompt alone, where only a draft model can predict anything.
 * </ul>
 */
public final class SpecBenchCommand {

    public static final String USAGE = """
              spec-bench    batch-1 decode tokens/s without and with speculative decoding (prompt lookup, a draft
                         model), alternating in one run, with the acceptance rate and a greedy identity check
                  --model FILE           target model (default: models/stories260K.gguf)
                  --draft FILE           draft model with the target's vocabulary: adds the draft-model setting
                  --workload W           lookup (default: the prompt holds the model's own continuation) or plain
                  --prompt-tokens N      random seed prompt length (default 32)
                  --max-tokens M         tokens generated per run (default 128)
                  --k K                  most draft tokens per step (default 4)
                  --draft-min-p P        draft model: drafts end at a token it gives less than P (default 0.75)
                  --methods LIST         comma list of none, ngram, draft (default: none,ngram[,draft])
                  --rounds R             measured rounds of each setting (default 2)
                  --threads T            compute threads (default: all processors)
            """;

    private SpecBenchCommand() {}

    /** One run of one setting. */
    record Run(
            String method,
            int[] tokens,
            double ttftSeconds,
            double decodeSeconds,
            long drafted,
            long accepted,
            long steps) {
        double tokensPerSecond() {
            return (tokens.length - 1) / decodeSeconds;
        }
    }

    public static int run(String[] args, PrintStream out, PrintStream err) throws IOException {
        CliArgs a = new CliArgs(
                args,
                Set.of(
                        "model",
                        "draft",
                        "workload",
                        "prompt-tokens",
                        "max-tokens",
                        "k",
                        "draft-min-p",
                        "methods",
                        "rounds",
                        "threads"),
                Set.of(),
                Set.of());
        Path path = Path.of(a.string("model", GenerateCommand.DEFAULT_MODEL));
        Path draftPath = a.has("draft") ? Path.of(a.string("draft", null)) : null;
        String workload = a.string("workload", "lookup");
        if (!workload.equals("lookup") && !workload.equals("plain"))
            throw new CliArgs.UsageException("--workload must be lookup or plain, got '" + workload + "'");
        int promptTokens = a.integer("prompt-tokens", 32, 1, 1 << 20);
        int maxTokens = a.integer("max-tokens", 128, 2, 1 << 20);
        int k = a.integer("k", 4, 1, Speculation.MAX_DRAFT_TOKENS);
        double minP = a.number("draft-min-p", (float) Speculation.DEFAULT_DRAFT_MIN_PROBABILITY, 0f, 0.999f);
        int rounds = a.integer("rounds", 2, 1, 100);
        int threads = a.integer("threads", Runtime.getRuntime().availableProcessors(), 1, 1024);
        List<String> methods = List.of(a.string("methods", draftPath == null ? "none,ngram" : "none,ngram,draft")
                .split(","));
        for (String m : methods) {
            if (!List.of("none", "ngram", "draft").contains(m))
                throw new CliArgs.UsageException("--methods takes none, ngram, draft; got '" + m + "'");
            if (m.equals("draft") && draftPath == null) throw new CliArgs.UsageException("method draft needs --draft");
        }
        if (!methods.contains("none")) throw new CliArgs.UsageException("--methods must include none (the baseline)");
        // The baseline runs first in every round: each ratio below is against the baseline of its own round.
        methods = java.util.stream.Stream.concat(
                        java.util.stream.Stream.of("none"), methods.stream().filter(m -> !m.equals("none")))
                .distinct()
                .toList();
        if (!Files.isRegularFile(path)) throw new CliArgs.UsageException("model file " + path + " does not exist");
        if (draftPath != null && !Files.isRegularFile(draftPath))
            throw new CliArgs.UsageException("draft file " + draftPath + " does not exist");

        try (LlamaModel model = LlamaModel.load(path, ComputePool.defaultFactory(), threads);
                LlamaModel draft =
                        draftPath == null ? null : LlamaModel.load(draftPath, ComputePool.defaultFactory(), threads)) {
            int vocab = model.config().vocabSize();
            int[] seed = PrefixBenchCommand.randomTokens(new Random(7), promptTokens, vocab);
            int[] prompt = seed;
            if (workload.equals("lookup")) {
                err.println("spec-bench: the model's own continuation of the seed prompt");
                int[] g = run(model, null, "none", seed, maxTokens, k, minP).tokens();
                prompt = concat(concat(seed, g), seed);
            }
            if (prompt.length + maxTokens > model.config().contextLength())
                throw new CliArgs.UsageException("prompt + max tokens exceed the model's context");
            // A whole unmeasured round first: each setting runs code paths (drafting, verification at every k) the
            // JIT compiles only once they are hot.
            err.println("spec-bench: warm-up round");
            for (String m : methods) run(model, draft, m, prompt, maxTokens, k, minP);
            // Every other round runs the settings in reverse order (A B C, C B A, ...): whatever the position in a
            // round does to a run (the previous run's garbage, a drifting host) falls on each setting alike.
            Run[] byRound = new Run[rounds * methods.size()];
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < methods.size(); i++) {
                    int m = r % 2 == 0 ? i : methods.size() - 1 - i;
                    err.printf("spec-bench: round %d/%d, %s%n", r + 1, rounds, methods.get(m));
                    byRound[r * methods.size() + m] = run(model, draft, methods.get(m), prompt, maxTokens, k, minP);
                }
            }
            List<Run> results = List.of(byRound);

            out.printf("anvil spec-bench: %s%s%n", path, draftPath == null ? "" : ", draft " + draftPath);
            out.printf(
                    "  workload %s, prompt %d tokens, %d tokens out (greedy, batch 1), k <= %d, draft min p %.2f, %d threads%n",
                    workload, prompt.length, maxTokens, k, minP, threads);
            out.printf(
                    "  %-6s %-7s %9s %12s %9s %11s %16s %10s%n",
                    "round",
                    "method",
                    "TTFT ms",
                    "decode tok/s",
                    "speedup",
                    "acceptance",
                    "tokens per step",
                    "identical");
            for (int i = 0; i < results.size(); i++) {
                Run run = results.get(i);
                Run base = results.get(i / methods.size() * methods.size()); // "none" of the same round
                out.printf(
                        "  %-6d %-7s %9.1f %12.2f %8.2fx %11s %16.2f %10s%n",
                        i / methods.size() + 1,
                        run.method(),
                        run.ttftSeconds() * 1e3,
                        run.tokensPerSecond(),
                        run.tokensPerSecond() / base.tokensPerSecond(),
                        run.drafted() == 0 ? "-" : String.format("%.1f %%", 100.0 * run.accepted() / run.drafted()),
                        run.tokens().length / (double) Math.max(1, run.steps()),
                        Arrays.equals(run.tokens(), base.tokens()) ? "yes" : "NO");
            }
            // Rounds drift with the host (10-20 % between minutes here), each setting's ratio to the baseline of its
            // own round does much less: the median of those ratios is the figure to quote.
            out.printf("  %-7s %15s %17s %11s%n", "method", "median speedup", "range", "acceptance");
            for (int m = 1; m < methods.size(); m++) {
                double[] ratios = new double[rounds];
                long drafted = 0, accepted = 0;
                for (int r = 0; r < rounds; r++) {
                    Run run = results.get(r * methods.size() + m);
                    ratios[r] = run.tokensPerSecond()
                            / results.get(r * methods.size()).tokensPerSecond();
                    drafted += run.drafted();
                    accepted += run.accepted();
                }
                Arrays.sort(ratios);
                double median =
                        rounds % 2 == 1 ? ratios[rounds / 2] : (ratios[rounds / 2 - 1] + ratios[rounds / 2]) / 2;
                out.printf(
                        "  %-7s %14.2fx %8.2fx-%.2fx %11s%n",
                        methods.get(m),
                        median,
                        ratios[0],
                        ratios[rounds - 1],
                        drafted == 0 ? "-" : String.format("%.1f %%", 100.0 * accepted / drafted));
            }
            for (Run run : results) {
                if (!Arrays.equals(run.tokens(), results.get(0).tokens()))
                    throw new CommandFailedException(
                            run.method() + " produced other tokens than decoding without speculation");
            }
        }
        return 0;
    }

    /** One greedy sequence of at most {@code maxTokens} tokens, stepped on this thread (prefix caching off). */
    private static Run run(
            LlamaModel model, LlamaModel draft, String method, int[] prompt, int maxTokens, int k, double minP) {
        Speculation sp = switch (method) {
            case "ngram" -> Speculation.ngram(k, 1, 3);
            case "draft" -> Speculation.draft(k, minP);
            default -> Speculation.NONE;
        };
        long kvBytes = (long) KvCachePool.blocksFor(prompt.length + maxTokens + 16)
                * KvCachePool.bytesPerBlock(model.config());
        Scheduler s = new Scheduler(
                model, new Scheduler.Config(kvBytes, 4, 256, 1, false, sp), sp == Speculation.NONE ? null : draft);
        long[] firstLast = {-1, -1};
        List<Integer> tokens = new ArrayList<>();
        boolean[] done = {false};
        Throwable[] failed = {null};
        SequenceRequest request = new SequenceRequest(prompt, SamplingParams.GREEDY, maxTokens, List.of());
        long submitted = System.nanoTime();
        s.submit(request, new SequenceListener() {
            @Override
            public void onToken(Generation.Step step) {
                long now = System.nanoTime();
                if (firstLast[0] < 0) firstLast[0] = now;
                firstLast[1] = now;
                tokens.add(step.token());
            }

            @Override
            public void onFinish(SequenceOutcome outcome) {
                done[0] = true;
            }

            @Override
            public void onError(Throwable error) {
                failed[0] = error;
                done[0] = true;
            }
        });
        long steps0 = 0;
        while (!done[0]) {
            s.step();
            if (firstLast[0] < 0) steps0 = s.stats().steps(); // prefill steps, not decode
        }
        Scheduler.Stats st = s.stats();
        s.close();
        if (failed[0] != null) throw new CommandFailedException(method + ": generation failed: " + failed[0]);
        return new Run(
                method,
                tokens.stream().mapToInt(Integer::intValue).toArray(),
                (firstLast[0] - submitted) / 1e9,
                (firstLast[1] - firstLast[0]) / 1e9,
                st.draftedTokens(),
                st.acceptedTokens(),
                st.steps() - steps0);
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
