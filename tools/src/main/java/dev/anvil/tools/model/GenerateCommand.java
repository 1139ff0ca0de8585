package dev.anvil.tools.model;

import dev.anvil.engine.Batch;
import dev.anvil.engine.ComputePool;
import dev.anvil.engine.Generation;
import dev.anvil.engine.GgufFile;
import dev.anvil.engine.KvCacheFullException;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.Sampler;
import dev.anvil.engine.SamplingParams;
import dev.anvil.engine.Tokenizer;
import dev.anvil.tools.CliArgs;
import dev.anvil.tools.JsonText;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * {@code anvil generate}: tokenizes the prompt, runs it through the model, then samples one token at a time with
 * the engine's {@link Generation} (sampling, penalties, stop strings, streaming detokenization), printing the
 * text as it becomes final (or one JSON object with {@code --json}).
 *
 * <p>Generation ends after {@code --max-tokens}, at an end-of-generation token (not part of the output), at the
 * model's context length, or when the text contains a {@code --stop} string (the text is cut before it).
 * Log-probabilities are those of the model's own distribution (log-softmax of the logits), whatever the
 * sampling settings.
 */
public final class GenerateCommand {

    static final String DEFAULT_MODEL = "models/stories260K.gguf";

    private GenerateCommand() {}

    /** Everything {@code generate} produced; {@code logprobs[step]} holds {@code [id, logprob]} pairs. */
    record Output(int[] promptTokens, int[] generatedTokens, String text, String stopReason, double[][][] logprobs) {}

    public static int run(String[] args, PrintStream out, PrintStream err) throws IOException {
        CliArgs a = new CliArgs(
                args,
                Set.of(
                        "model",
                        "tokenizer",
                        "prompt",
                        "max-tokens",
                        "temperature",
                        "top-k",
                        "top-p",
                        "min-p",
                        "repeat-penalty",
                        "seed",
                        "threads",
                        "logprobs"),
                Set.of("stop"),
                Set.of("json"));
        Path modelPath = Path.of(a.string("model", DEFAULT_MODEL));
        if (!Files.isRegularFile(modelPath))
            throw new CliArgs.UsageException("model file " + modelPath + " does not exist");
        String prompt = a.string("prompt", "");
        int maxTokens = a.integer("max-tokens", 256, 1, 1 << 24);
        boolean json = a.flag("json");
        int logprobs = a.integer("logprobs", 0, 0, 100);
        if (logprobs > 0 && !json) throw new CliArgs.UsageException("--logprobs needs --json");
        SamplingParams params = SamplingParams.GREEDY
                .withTemperature(a.number("temperature", 0f, 0f, 100f))
                .withTopK(a.integer("top-k", 0, 0, Integer.MAX_VALUE))
                .withTopP(a.number("top-p", 1f, 1e-6f, 1f))
                .withMinP(a.number("min-p", 0f, 0f, 1f))
                .withRepetitionPenalty(a.number("repeat-penalty", 1f, 0.01f, 100f))
                .withSeed(a.longValue("seed", 42))
                .withTopLogprobs(logprobs > 0 ? logprobs : -1);
        List<String> stops = a.all("stop");
        for (String s : stops) if (s.isEmpty()) throw new CliArgs.UsageException("--stop needs a non-empty string");
        int threads = a.integer("threads", Runtime.getRuntime().availableProcessors(), 1, 1024);
        Path tokenizerPath = null;
        if (a.has("tokenizer")) {
            tokenizerPath = Path.of(a.string("tokenizer", null));
            if (!Files.isRegularFile(tokenizerPath))
                throw new CliArgs.UsageException("tokenizer file " + tokenizerPath + " does not exist");
            if (GgufFile.hasMagic(modelPath))
                throw new CliArgs.UsageException(
                        "--tokenizer is for llama2.c .bin models; a GGUF model carries its own");
        } else if (!GgufFile.hasMagic(modelPath)) {
            throw new CliArgs.UsageException(
                    modelPath + " is a llama2.c checkpoint: give its tokenizer with --tokenizer (e.g. tok512.bin)");
        }

        try (LlamaModel model = LlamaModel.load(modelPath, tokenizerPath, ComputePool.defaultFactory(), threads)) {
            if (!json) {
                // Echo the prompt so the streamed text reads as one document, as llama.cpp and llama2.c do.
                out.print(prompt);
                out.flush();
            }
            Output o = generate(model, model.tokenizer(), prompt, maxTokens, params, stops, json ? null : out);
            if (json) out.println(toJson(o));
            else out.println();
        }
        return 0;
    }

    /**
     * Prefills the prompt, then alternates {@link Generation#next} and one-token forward passes until the
     * generation finishes or the context is full; {@code stream} (may be null) receives text as it is final.
     */
    static Output generate(
            LlamaModel model,
            Tokenizer tokenizer,
            String prompt,
            int maxTokens,
            SamplingParams params,
            List<String> stops,
            PrintStream stream) {
        int[] promptTokens = tokenizer.encode(prompt, tokenizer.addBosByDefault());
        if (promptTokens.length == 0) {
            // Nothing to condition on: start from BOS, as llama.cpp does for an empty prompt.
            if (tokenizer.bos() < 0)
                throw new CliArgs.UsageException("empty prompt and the model has no BOS token to start from");
            promptTokens = new int[] {tokenizer.bos()};
        }
        int context = model.config().contextLength();
        if (promptTokens.length >= context) {
            throw new CliArgs.UsageException(
                    "prompt is " + promptTokens.length + " tokens; the model's context is " + context);
        }
        int steps = Math.min(maxTokens, context - promptTokens.length);
        KvCachePool kv = model.newKvCachePool(
                KvCachePool.bytesPerBlock(model.config()) * KvCachePool.blocksFor(promptTokens.length + steps));
        KvCachePool.Sequence seq = kv.newSequence();
        Generation g = new Generation(tokenizer, promptTokens, params, steps, stops);
        List<double[][]> logprobs = new ArrayList<>();
        try {
            kv.reserve(seq, promptTokens.length + steps);
            float[] logits =
                    model.forward(new Batch().add(seq, 0, promptTokens)).logits(0);
            int position = promptTokens.length;
            while (true) {
                Generation.Step step = g.next(logits);
                if (params.topLogprobs() > 0) logprobs.add(pairs(step.sample()));
                if (stream != null && !step.text().isEmpty()) {
                    stream.print(step.text());
                    stream.flush();
                }
                if (step.finished()) break;
                logits = model.forward(new Batch().add(seq, position++, step.token()))
                        .logits(0);
            }
        } catch (KvCacheFullException e) {
            throw new IllegalStateException("KV cache sized for this generation is too small", e);
        } finally {
            kv.free(seq);
        }
        int[] generated = g.generatedTokens();
        if (g.finishReason() == Generation.FinishReason.END_OF_SEQUENCE && generated.length > 0) {
            // The end-of-generation token ends the output; it is not part of it.
            generated = java.util.Arrays.copyOf(generated, generated.length - 1);
            if (!logprobs.isEmpty()) logprobs.removeLast();
        }
        String reason = switch (g.finishReason()) {
            case END_OF_SEQUENCE -> "eos";
            case STOP_STRING -> "stop";
            case MAX_TOKENS -> steps < maxTokens ? "context" : "length";
            case GRAMMAR -> "grammar";
        };
        return new Output(
                promptTokens,
                generated,
                g.text(),
                reason,
                params.topLogprobs() > 0 ? logprobs.toArray(double[][][]::new) : null);
    }

    private static double[][] pairs(Sampler.SampledToken sample) {
        int n = sample.topTokens() == null ? 0 : sample.topTokens().length;
        double[][] out = new double[n][];
        for (int i = 0; i < n; i++) out[i] = new double[] {sample.topTokens()[i], sample.topLogprobs()[i]};
        return out;
    }

    static String toJson(Output o) {
        return JsonText.write(g -> {
            g.writeStartObject();
            g.writeStartArray("prompt_tokens");
            for (int id : o.promptTokens()) g.write(id);
            g.writeEnd();
            g.writeStartArray("generated_tokens");
            for (int id : o.generatedTokens()) g.write(id);
            g.writeEnd();
            g.write("text", o.text());
            g.write("stop_reason", o.stopReason());
            if (o.logprobs() != null) {
                g.writeStartArray("logprobs");
                for (double[][] step : o.logprobs()) {
                    g.writeStartArray();
                    for (double[] pair : step) {
                        g.writeStartArray().write((long) pair[0]);
                        JsonText.number(g, pair[1]).writeEnd();
                    }
                    g.writeEnd();
                }
                g.writeEnd();
            }
            g.writeEnd();
        });
    }
}
