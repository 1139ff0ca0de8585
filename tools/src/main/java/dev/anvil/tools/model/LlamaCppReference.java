package dev.anvil.tools.model;

import dev.anvil.tools.CliArgs;
import dev.anvil.tools.CommandFailedException;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The reference for {@code anvil bench --llama-cpp DIR}: llama.cpp's {@code llama-batched-bench}, built beside the
 * project, run on the same GGUF with the same work as {@link BenchCommand}: one prompt of {@code P} tokens per
 * sequence, then {@code G} decode steps with {@code B} sequences advancing together, on {@code T} threads.
 *
 * <p>{@code llama-batched-bench} is the one llama.cpp tool that measures exactly that (llama-bench times decode from
 * an empty context and only at batch 1). It prefills the {@code B} prompts in one batch where Anvil prefills them one
 * by one; the prefill figures are per token either way. It prints one JSON line per configuration with
 * {@code --output-format jsonl}: {@code speed_pp} (prompt tokens per second) and {@code speed_tg} (generated tokens
 * per second, all sequences together).
 */
final class LlamaCppReference {

    /** One run of the reference: prompt tokens per second and aggregate decode tokens per second. */
    record Result(double prefillTokensPerSecond, double decodeAggregate) {
        Result best(Result other) {
            return new Result(
                    Math.max(prefillTokensPerSecond, other.prefillTokensPerSecond),
                    Math.max(decodeAggregate, other.decodeAggregate));
        }
    }

    private static final long TIMEOUT_MINUTES = 30;

    private final Path binary;

    /** @param buildDir a llama.cpp CMake build directory (its {@code bin/llama-batched-bench}) or the bin directory */
    LlamaCppReference(Path buildDir) {
        Path inBin = buildDir.resolve("bin").resolve("llama-batched-bench");
        Path direct = buildDir.resolve("llama-batched-bench");
        if (Files.isExecutable(inBin)) binary = inBin;
        else if (Files.isExecutable(direct)) binary = direct;
        else
            throw new CliArgs.UsageException("no executable llama-batched-bench in " + buildDir + " or its bin/ (build"
                    + " the llama-batched-bench target of llama.cpp there; docs/BENCHMARKS.md says how)");
    }

    Path binary() {
        return binary;
    }

    /** The command line: same model, threads, prompt and decode lengths and sequence count as Anvil's run. */
    List<String> command(Path model, int promptTokens, int genTokens, int threads, int batch) {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary.toString());
        cmd.addAll(List.of("-m", model.toString()));
        cmd.addAll(List.of("-t", Integer.toString(threads), "-tb", Integer.toString(threads)));
        cmd.addAll(List.of("-npp", Integer.toString(promptTokens)));
        cmd.addAll(List.of("-ntg", Integer.toString(genTokens)));
        cmd.addAll(List.of("-npl", Integer.toString(batch)));
        // Room for every sequence's prompt and generated tokens, as Anvil's KV pool is sized.
        cmd.addAll(List.of("-c", Integer.toString((promptTokens + genTokens) * batch)));
        cmd.addAll(List.of("-b", "2048", "-ub", "512"));
        cmd.addAll(List.of("--output-format", "jsonl"));
        return cmd;
    }

    /** Runs the reference once and reads its JSON line (stdout; llama.cpp logs to stderr from its own thread). */
    Result run(Path model, int promptTokens, int genTokens, int threads, int batch) throws IOException {
        Path stdout = Files.createTempFile("anvil-llama-batched-bench", ".jsonl");
        Path stderr = Files.createTempFile("anvil-llama-batched-bench", ".log");
        try {
            Process p = new ProcessBuilder(command(model, promptTokens, genTokens, threads, batch))
                    .redirectOutput(stdout.toFile())
                    .redirectError(stderr.toFile())
                    .start();
            boolean done;
            try {
                done = p.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new CommandFailedException("interrupted while llama-batched-bench ran");
            }
            if (!done) {
                p.destroyForcibly();
                throw new CommandFailedException("llama-batched-bench did not finish in " + TIMEOUT_MINUTES + " min");
            }
            String output = Files.readString(stdout, StandardCharsets.UTF_8);
            String log = Files.readString(stderr, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new CommandFailedException("llama-batched-bench exited with " + p.exitValue() + ": " + tail(log));
            }
            return parse(output + "\n" + log, promptTokens, genTokens, batch);
        } finally {
            Files.deleteIfExists(stdout);
            Files.deleteIfExists(stderr);
        }
    }

    /** The JSON line for this configuration among llama.cpp's log lines. */
    static Result parse(String output, int promptTokens, int genTokens, int batch) {
        for (String line : output.split("\n")) {
            String l = line.strip();
            if (!l.startsWith("{")) continue;
            JsonObject o;
            try (JsonReader r = Json.createReader(new StringReader(l))) {
                o = r.readObject();
            } catch (RuntimeException notJson) {
                continue;
            }
            if (o.getInt("pp", -1) == promptTokens && o.getInt("tg", -1) == genTokens && o.getInt("pl", -1) == batch) {
                return new Result(
                        o.getJsonNumber("speed_pp").doubleValue(),
                        o.getJsonNumber("speed_tg").doubleValue());
            }
        }
        throw new CommandFailedException("llama-batched-bench printed no result for pp " + promptTokens + ", tg "
                + genTokens + ", pl " + batch + ": " + tail(output));
    }

    private static String tail(String output) {
        String s = output.strip();
        return s.length() <= 600 ? s : "..." + s.substring(s.length() - 600);
    }
}
