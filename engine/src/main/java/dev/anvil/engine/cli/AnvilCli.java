package dev.anvil.engine.cli;

import dev.anvil.engine.GgmlType;
import dev.anvil.engine.UnsupportedModelException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Set;

/**
 * The engine's command line ({@code bin/anvil <command>}): {@code generate}, {@code synth}, {@code bench},
 * {@code help}. Exit status: 0 on success, 1 when the work fails (unreadable model, I/O error), 2 on wrong usage.
 */
public final class AnvilCli {

    static final String USAGE = """
            usage: anvil <command> [options]

            commands:
              generate   generate text from a model
                  --model FILE           GGUF model or llama2.c .bin checkpoint (default: models/stories260K.gguf)
                  --tokenizer FILE       llama2.c tokenizer (tok512.bin) for a .bin checkpoint
                  --prompt TEXT          prompt (default: empty, i.e. start from BOS)
                  --max-tokens N         tokens to generate (default 256)
                  --temperature T        0 = greedy (default 0)
                  --top-k K  --top-p P  --min-p P  --repeat-penalty R   sampling filters (default off)
                  --seed S               sampling seed (default 42)
                  --stop STR             stop when the text contains STR (repeatable)
                  --threads N            compute threads (default: all processors)
                  --json                 print one JSON object (prompt_tokens, generated_tokens, text) instead of streaming
                  --logprobs K           with --json: top-K [token_id, logprob] pairs per generated token
              synth      write a llama-architecture GGUF with random weights in a real model's shape
                  --shape NAME           smollm2-135m | smollm2-360m | llama-3.2-1b | tiny
                  --type TYPE            F16 | Q8_0 | Q4_0 | Q4_K (also F32, BF16; default Q8_0)
                  --seed N               weight seed (default 0); same seed, same bytes
                  --out FILE             output file
              bench      measure load time, memory, prefill and decode throughput
                  --model FILE           model to measure (default: models/stories260K.gguf)
                  --prompt-tokens N      prompt length for prefill (default 128)
                  --gen-tokens M         decode steps per sequence (default 64)
                  --threads T            compute threads (default: all processors)
                  --batch B              sequences decoding together (default 1)
                  --repeat R             measured runs after the warm-up; the best is reported (default 1)
              help       this text
            """ + LoadCommand.USAGE + CacheBenchCommand.USAGE;

    private AnvilCli() {}

    public static void main(String[] args) {
        PrintStream out =
                new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        int status = run(args, out, System.err);
        out.flush();
        System.exit(status);
    }

    /** Runs one command; returns the process exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0) {
            err.print(USAGE);
            return 2;
        }
        String command = args[0];
        String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
        try {
            switch (command) {
                case "help", "-h", "--help" -> {
                    out.print(USAGE);
                    return 0;
                }
                case "synth" -> {
                    return synth(rest, out, err);
                }
                case "generate" -> {
                    return GenerateCommand.run(rest, out, err);
                }
                case "load" -> {
                    return LoadCommand.run(rest, out, err);
                }
                case "cache-bench" -> {
                    return CacheBenchCommand.run(rest, out, err);
                }
                case "bench" -> {
                    return BenchCommand.run(rest, out, err);
                }
                default -> throw new CliArgs.UsageException("unknown command '" + command + "'");
            }
        } catch (CliArgs.UsageException e) {
            err.println("anvil " + command + ": " + e.getMessage());
            err.println();
            err.print(USAGE);
            return 2;
        } catch (NoSuchFileException e) {
            err.println("anvil " + command + ": file not found: " + e.getFile());
            return 1;
        } catch (UnsupportedModelException e) {
            err.println("anvil " + command + ": unsupported model: " + e.getMessage());
            return 1;
        } catch (IOException e) {
            err.println("anvil " + command + ": I/O error: " + e);
            return 1;
        }
    }

    private static int synth(String[] args, PrintStream out, PrintStream err) throws IOException {
        CliArgs a = new CliArgs(args, Set.of("shape", "type", "seed", "out"), Set.of(), Set.of());
        ModelShape shape;
        try {
            shape = ModelShape.named(a.required("shape"));
        } catch (IllegalArgumentException e) {
            throw new CliArgs.UsageException(e.getMessage());
        }
        String typeName = a.string("type", "Q8_0").toUpperCase(java.util.Locale.ROOT);
        GgmlType type = switch (typeName) {
            case "F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K" -> GgmlType.valueOf(typeName);
            case "Q4_K_S" -> GgmlType.Q4_K;
            default ->
                throw new CliArgs.UsageException(
                        "--type must be one of F16, Q8_0, Q4_0, Q4_K, F32, BF16; got '" + typeName + "'");
        };
        long seed = a.longValue("seed", 0);
        Path target = Path.of(a.required("out"));
        Path parent = target.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new CliArgs.UsageException("output directory " + parent + " does not exist");
        }
        long start = System.nanoTime();
        new ModelSynthesizer(shape, type, seed, err).write(target);
        double seconds = (System.nanoTime() - start) / 1e9;
        out.printf(
                "wrote %s: %s, %s, %,d parameters, %,d bytes, seed %d (%.1f s)%n",
                target, shape.name(), typeName, shape.parameters(), Files.size(target), seed, seconds);
        return 0;
    }
}
