package dev.anvil.engine;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Locates the shared reference data and reads the llama.cpp reference outputs (JSON lines). */
final class TestData {
    private TestData() {}

    /** The shared directory; a missing directory fails the test run instead of silently skipping it. */
    static Path sharedDir() {
        Path dir = Path.of(System.getProperty("anvil.shared.dir", "../../shared"))
                .toAbsolutePath()
                .normalize();
        if (!Files.isDirectory(dir.resolve("reference/outputs"))) {
            throw new IllegalStateException("shared reference data not found at " + dir
                    + " (set -Danvil.shared.dir to the directory holding models/ and reference/)");
        }
        return dir;
    }

    static Path stories260KGguf() {
        return sharedDir().resolve("models/stories260K.gguf");
    }

    static Path stories260KBin() {
        return sharedDir().resolve("models/stories260K.bin");
    }

    /** One reference prompt: its tokens, llama.cpp's greedy steps with top-5 logits, and all logits of step 0. */
    record Reference(
            String prompt,
            int[] promptTokens,
            int[] stepTokens,
            int[][] top5Ids,
            float[][] top5Logits,
            float[] firstStepLogits) {
        /** Reference gap between the best and second-best logit at step i. */
        float gap(int i) {
            return top5Logits[i][0] - top5Logits[i][1];
        }
    }

    static List<Reference> references(String model) throws IOException {
        return references(sharedDir().resolve("reference/outputs/" + model + ".jsonl"));
    }

    /** The reference prompts of a JSON lines file (see reference/arch/README.md for the format). */
    static List<Reference> references(Path jsonl) throws IOException {
        List<Reference> out = new ArrayList<>();
        for (String line : Files.readAllLines(jsonl)) {
            if (line.isBlank()) continue;
            JsonObject o = json(line);
            JsonArray steps = o.getJsonArray("steps");
            int n = steps.size();
            int[] tokens = new int[n];
            int[][] ids = new int[n][];
            float[][] logits = new float[n][];
            for (int i = 0; i < n; i++) {
                JsonObject s = steps.getJsonObject(i);
                tokens[i] = s.getInt("token");
                JsonArray top = s.getJsonArray("top5");
                ids[i] = new int[top.size()];
                logits[i] = new float[top.size()];
                for (int j = 0; j < top.size(); j++) {
                    JsonArray pair = top.getJsonArray(j);
                    ids[i][j] = pair.getInt(0);
                    logits[i][j] = (float) pair.getJsonNumber(1).doubleValue();
                }
            }
            JsonArray pt = o.getJsonArray("prompt_tokens");
            JsonArray fl = o.getJsonArray("first_step_logits");
            int[] prompt = new int[pt.size()];
            for (int i = 0; i < prompt.length; i++) prompt[i] = pt.getInt(i);
            float[] first = new float[fl.size()];
            for (int i = 0; i < first.length; i++)
                first[i] = (float) fl.getJsonNumber(i).doubleValue();
            out.add(new Reference(o.getString("prompt"), prompt, tokens, ids, logits, first));
        }
        if (out.isEmpty()) throw new IllegalStateException("no reference prompts in " + jsonl);
        return out;
    }

    /** One JSON object of a reference file (a line of JSON lines). */
    static JsonObject json(String line) {
        try (JsonReader reader = Json.createReader(new StringReader(line))) {
            return reader.readObject();
        }
    }
}
