package dev.anvil.tools;

import dev.anvil.engine.UnsupportedModelException;
import dev.anvil.tools.model.BenchCommand;
import dev.anvil.tools.model.GenerateCommand;
import dev.anvil.tools.model.GrammarBenchCommand;
import dev.anvil.tools.model.PrefixBenchCommand;
import dev.anvil.tools.model.SpecBenchCommand;
import dev.anvil.tools.model.SynthCommand;
import dev.anvil.tools.server.BatchBenchCommand;
import dev.anvil.tools.server.CacheBenchCommand;
import dev.anvil.tools.server.GatewayBenchCommand;
import dev.anvil.tools.server.LoadCommand;
import dev.anvil.tools.server.ShadowBenchCommand;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.util.Map;

/**
 * The command line behind {@code bin/anvil <command>}: the engine in-process ({@code generate}, {@code synth},
 * {@code bench}, {@code prefix-bench}, {@code grammar-bench}) and benchmarks of a running server ({@code load}, {@code cache-bench}, {@code gateway-bench},
 * {@code shadow-bench}, {@code batch-bench}), {@code help}. Exit status: 0 on success, 1 when the work fails (unreadable model, I/O error,
 * a server that refuses), 2 on wrong usage.
 */
public final class AnvilCli {

    public static final String USAGE =
            """
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
              synth      write a GGUF with random weights in a real model's shape, laid out as llama.cpp loads
                         that model's architecture, with a vocabulary of the real size and its chat template
                  --shape NAME           smollm2-135m | smollm2-360m | llama-3.2-1b | llama-3-8b (llama), qwen2.5-0.5b (qwen2),
                                         qwen3-0.6b (qwen3), gemma-2-2b (gemma2), phi-3-mini (phi3) | tiny
                  --type TYPE            F16 | Q8_0 | Q4_0 | Q4_K (also F32, BF16; default Q8_0)
                  --seed N               weight seed (default 0); same seed, same bytes
                  --layers N             write only the first N layers of that model, each tensor as it is
                                         there (a shallow draft model for speculative decoding)
                  --attenuate-from L     scale the output projections of layers L and later by --attenuation
                  --attenuation F        (default 0.1): a target whose first L layers (--layers L, same seed)
                                         agree with it, standing in for a trained draft/target pair
                  --out FILE             output file
              bench      measure load time, memory, prefill and decode throughput; for an embedding model (BERT
                         GGUF) inputs/s and tokens/s of --batch inputs of --prompt-tokens tokens in one pass
                  --model FILE           model to measure (default: models/stories260K.gguf)
                  --prompt-tokens N      prompt length for prefill (default 128)
                  --gen-tokens M         decode steps per sequence (default 64)
                  --threads T            compute threads (default: all processors)
                  --batch B              sequences decoding together (default 1)
                  --repeat R             measured runs, the best reported (default 1), after warm-up runs that repeat
                                         until the JIT has nothing left to compile (at most 8)
                  --llama-cpp DIR        also run llama.cpp's llama-batched-bench (llama-embedding for an embedding
                                         model) from this build dir on the same model and work, before and after
                                         Anvil, and print the ratios
              help       this text
            """ + PrefixBenchCommand.USAGE + GrammarBenchCommand.USAGE + SpecBenchCommand.USAGE + LoadCommand.USAGE
                    + CacheBenchCommand.USAGE
                    + GatewayBenchCommand.USAGE + ShadowBenchCommand.USAGE + BatchBenchCommand.USAGE;

    private AnvilCli() {}

    public static void main(String[] args) {
        PrintStream out =
                new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        int status = run(args, out, System.err);
        out.flush();
        System.exit(status);
    }

    /** Runs one command with this process' environment; returns the process exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, System.getenv(), out, err);
    }

    /** Runs one command; {@code env} holds the environment variables the server commands read (ANVIL_URL, ...). */
    public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
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
                    return SynthCommand.run(rest, out, err);
                }
                case "generate" -> {
                    return GenerateCommand.run(rest, out, err);
                }
                case "load" -> {
                    return LoadCommand.run(rest, out);
                }
                case "cache-bench" -> {
                    return CacheBenchCommand.run(rest, out, err);
                }
                case "gateway-bench" -> {
                    return GatewayBenchCommand.run(rest, env, out);
                }
                case "shadow-bench" -> {
                    return ShadowBenchCommand.run(rest, env, out);
                }
                case "batch-bench" -> {
                    return BatchBenchCommand.run(rest, out);
                }
                case "bench" -> {
                    return BenchCommand.run(rest, out, err);
                }
                case "prefix-bench" -> {
                    return PrefixBenchCommand.run(rest, out, err);
                }
                case "grammar-bench" -> {
                    return GrammarBenchCommand.run(rest, out, err);
                }
                case "spec-bench" -> {
                    return SpecBenchCommand.run(rest, out, err);
                }
                default -> throw new CliArgs.UsageException("unknown command '" + command + "'");
            }
        } catch (CliArgs.UsageException e) {
            err.println("anvil " + command + ": " + e.getMessage());
            err.println();
            err.print(USAGE);
            return 2;
        } catch (CommandFailedException e) {
            err.println("anvil " + command + ": " + e.getMessage());
            return 1;
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
}
