package dev.anvil.tools.model;

import dev.anvil.engine.BertEncoder;
import dev.anvil.engine.ComputePool;
import dev.anvil.tools.CliArgs;
import dev.anvil.tools.CommandFailedException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code anvil bench} on an embedding model (a BERT GGUF): {@code B} inputs of {@code P} tokens each ([CLS] and [SEP]
 * included) embedded as one batched forward pass, as the server's queue runs a request's inputs; inputs/s and
 * tokens/s of the best of {@code R} measured passes after warm-up passes. The inputs are the text {@code hello} repeated
 * ({@code P - 2} words, one token each), so llama.cpp's {@code llama-embedding} gets the same tokens from the same text.
 *
 * <p>With {@code --llama-cpp DIR}, {@code DIR/bin/llama-embedding} (or {@code DIR/llama-embedding}) embeds the same
 * {@code B} lines {@code R + 1} times over on the same threads, with its batch exactly {@code B * P} tokens
 * ({@code -c}), so that each group of {@code B} lines is one encode call; before and after Anvil, the better run
 * counting. It reports no encoder timing of its own ({@code prompt eval time} stays 0 for encoders), so each pass is
 * read from its verbose log's timestamps, from one {@code batch_decode} line to the next (the last to the
 * {@code llama_perf_context_print} line): the encode call plus pooling and normalization of its outputs. The first
 * pass is left out as its warm-up (its graph is allocated then) and the best of the others counts, as for Anvil.
 */
final class EmbeddingBench {

    private EmbeddingBench() {}

    record Result(double seconds, int inputs, int tokensPerInput) {
        double inputsPerSecond() {
            return inputs / seconds;
        }

        double tokensPerSecond() {
            return (double) inputs * tokensPerInput / seconds;
        }
    }

    static int run(
            Path model,
            int promptTokens,
            int threads,
            int batch,
            int repeat,
            Path llamaCpp,
            PrintStream out,
            PrintStream err)
            throws IOException {
        Path reference = llamaCpp == null ? null : binary(llamaCpp);
        String text = "hello ".repeat(Math.max(1, promptTokens - 2)).strip();
        int tokens = Math.max(1, promptTokens - 2) + 2; // each "hello" is one token, [CLS] and [SEP] around them
        Result before = reference == null ? null : llamaCpp(reference, model, text, tokens, batch, repeat, threads);
        Result anvil;
        BertEncoder.Config config;
        try (BertEncoder encoder = BertEncoder.load(model, ComputePool.defaultFactory(), threads)) {
            config = encoder.config();
            int[] ids = encoder.tokenize(text);
            if (ids.length != tokens)
                throw new CommandFailedException("the bench text tokenizes to " + ids.length + " tokens, not " + tokens
                        + ": this vocabulary does not have 'hello' as one token");
            if (ids.length > config.contextLength())
                throw new CliArgs.UsageException("--prompt-tokens " + promptTokens
                        + " is beyond the model's context of " + config.contextLength());
            List<int[]> inputs = new ArrayList<>();
            for (int i = 0; i < batch; i++) inputs.add(ids);
            for (int i = 0; i < 3; i++) encoder.embed(inputs); // warm-up: the JIT compiles the kernels at this shape
            double best = Double.MAX_VALUE;
            for (int r = 0; r < repeat; r++) {
                long t0 = System.nanoTime();
                encoder.embed(inputs);
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
            anvil = new Result(best, batch, ids.length);
        }
        Result ref = null;
        if (reference != null) {
            Result after = llamaCpp(reference, model, text, tokens, batch, repeat, threads);
            ref = after.seconds() < before.seconds() ? after : before;
        }
        out.printf("anvil bench (embeddings): %s%n", model);
        out.printf(
                "  model      %s, dim %d, %d layers, %d heads, ffn %d, pooling %s%n",
                config.architecture(),
                config.dim(),
                config.layers(),
                config.heads(),
                config.hiddenDim(),
                config.pooling());
        out.printf(
                "  settings   %d threads, %d inputs of %d tokens in one pass, best of %d%n",
                threads, batch, anvil.tokensPerInput(), repeat);
        out.println("  ---------------------------------------------------------------");
        out.printf("  %-34s %12.1f inputs/s%n", "anvil embeddings", anvil.inputsPerSecond());
        out.printf("  %-34s %12.1f tok/s%n", "anvil embeddings", anvil.tokensPerSecond());
        if (ref != null) {
            out.println("  --- against llama.cpp (llama-embedding, best of the runs before and after) ---");
            out.printf("  %-34s %s%n", "reference", reference);
            out.printf(
                    "  %-34s %12.1f inputs/s  anvil/llama.cpp %5.2fx%n",
                    "llama.cpp embeddings", ref.inputsPerSecond(), anvil.inputsPerSecond() / ref.inputsPerSecond());
            out.printf("  %-34s %12.1f tok/s%n", "llama.cpp embeddings", ref.tokensPerSecond());
        }
        return 0;
    }

    private static Path binary(Path dir) {
        for (Path p : List.of(dir.resolve("bin/llama-embedding"), dir.resolve("llama-embedding")))
            if (Files.isExecutable(p)) return p;
        throw new CliArgs.UsageException("no executable llama-embedding in " + dir + " or its bin/");
    }

    private static final Pattern STAMP = Pattern.compile("^(\\d+)\\.(\\d+)\\.(\\d+)\\.(\\d+) ");

    /** Seconds of a log line's timestamp ({@code M.SS.mmm.uuu}), or -1. */
    private static double stamp(String line) {
        Matcher m = STAMP.matcher(line);
        if (!m.find()) return -1;
        return Integer.parseInt(m.group(1)) * 60.0
                + Integer.parseInt(m.group(2))
                + Integer.parseInt(m.group(3)) / 1e3
                + Integer.parseInt(m.group(4)) / 1e6;
    }

    private static Result llamaCpp(
            Path binary, Path model, String text, int tokensPerInput, int batch, int repeat, int threads)
            throws IOException {
        String prompts = String.join("\n", java.util.Collections.nCopies(batch * (repeat + 1), text));
        Path log = Files.createTempFile("anvil-llama-embedding", ".log");
        Path input = Files.createTempFile("anvil-llama-embedding", ".txt"); // -p would exceed the argument size limit
        Files.writeString(input, prompts, StandardCharsets.UTF_8);
        try {
            Process p = new ProcessBuilder(
                            binary.toString(),
                            "-m",
                            model.toString(),
                            "-f",
                            input.toString(),
                            "-c",
                            String.valueOf(batch * tokensPerInput),
                            "-t",
                            String.valueOf(threads),
                            "--perf",
                            "-v",
                            "--embd-output-format",
                            "json")
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(log.toFile())
                    .start();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new CommandFailedException("llama-embedding did not finish within 10 minutes");
            }
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            if (p.exitValue() != 0)
                throw new CommandFailedException("llama-embedding failed (exit " + p.exitValue() + "): "
                        + String.join("\n", lines.subList(Math.max(0, lines.size() - 5), lines.size())));
            List<Double> starts = new ArrayList<>();
            double end = -1;
            Pattern n = Pattern.compile("batch_decode: n_tokens = (\\d+), n_seq = (\\d+)");
            for (String line : lines) {
                Matcher m = n.matcher(line);
                if (m.find()) {
                    if (Integer.parseInt(m.group(2)) != batch || Integer.parseInt(m.group(1)) != batch * tokensPerInput)
                        throw new CommandFailedException(
                                "llama-embedding did not run " + batch + " inputs per pass: " + line);
                    starts.add(stamp(line));
                }
                if (line.contains("llama_perf_context_print") && !starts.isEmpty() && end < 0) end = stamp(line);
            }
            if (starts.size() != repeat + 1 || end < 0)
                throw new CommandFailedException(
                        "llama-embedding's log shows " + starts.size() + " passes, expected " + (repeat + 1));
            starts.add(end);
            double best = Double.MAX_VALUE;
            for (int i = 1; i < starts.size() - 1; i++) best = Math.min(best, starts.get(i + 1) - starts.get(i));
            return new Result(best, batch, tokensPerInput);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommandFailedException("interrupted");
        } finally {
            Files.deleteIfExists(log);
            Files.deleteIfExists(input);
        }
    }
}
