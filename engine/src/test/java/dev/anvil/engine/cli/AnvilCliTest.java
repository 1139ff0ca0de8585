package dev.anvil.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AnvilCliTest {

    @TempDir
    Path dir;

    record Run(int status, String out, String err) {}

    static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status = AnvilCli.run(
                args,
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** The repository's default model, found from the module directory the tests run in. */
    static Path storiesModel() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("models/stories260K.gguf");
            if (Files.isRegularFile(candidate)) return candidate;
        }
        throw new AssertionError(
                "models/stories260K.gguf not found above " + Path.of("").toAbsolutePath());
    }

    @Test
    void generateJsonGivesTokensTextAndLogprobs() {
        Run r = cli(
                "generate",
                "--model",
                storiesModel().toString(),
                "--max-tokens",
                "24",
                "--json",
                "--logprobs",
                "3",
                "--threads",
                "1");
        assertEquals(0, r.status(), r.err());
        assertEquals(1, r.out().strip().lines().count(), "one JSON object on one line");
        Map<?, ?> json = assertInstanceOf(Map.class, MiniJson.parse(r.out()));
        List<?> prompt = (List<?>) json.get("prompt_tokens");
        assertEquals(List.of(1L), prompt, "empty prompt starts from BOS");
        List<?> generated = (List<?>) json.get("generated_tokens");
        assertEquals(24, generated.size());
        String text = (String) json.get("text");
        assertTrue(text.startsWith("Once upon a time"), text);
        List<?> logprobs = (List<?>) json.get("logprobs");
        assertEquals(24, logprobs.size());
        for (int step = 0; step < logprobs.size(); step++) {
            List<?> top = (List<?>) logprobs.get(step);
            assertEquals(3, top.size());
            List<?> best = (List<?>) top.getFirst();
            assertEquals(generated.get(step), best.get(0), "greedy picks the most likely token at step " + step);
            double previous = 0;
            for (Object pair : top) {
                double lp = ((Number) ((List<?>) pair).get(1)).doubleValue();
                assertTrue(lp <= previous + 1e-12, "logprobs are sorted and <= 0");
                previous = lp;
            }
        }
    }

    @Test
    void generateStopsAtAStopStringAndCutsItOff() {
        Run r = cli("generate", "--model", storiesModel().toString(), "--max-tokens", "64", "--stop", "Lily", "--json");
        assertEquals(0, r.status(), r.err());
        Map<?, ?> json = (Map<?, ?>) MiniJson.parse(r.out());
        assertEquals("Once upon a time, there was a little girl named ", json.get("text"));
        assertEquals("stop", json.get("stop_reason"));
        Run streamed = cli("generate", "--model", storiesModel().toString(), "--max-tokens", "64", "--stop", "Lily");
        assertEquals("Once upon a time, there was a little girl named \n", streamed.out());
    }

    @Test
    void synthThenGenerateWithTheSyntheticVocabulary() {
        Path model = dir.resolve("tiny.gguf");
        Run s = cli("synth", "--shape", "tiny", "--type", "Q4_0", "--seed", "3", "--out", model.toString());
        assertEquals(0, s.status(), s.err());
        assertTrue(s.out().contains("tiny"), s.out());
        Run g = cli("generate", "--model", model.toString(), "--prompt", "the town", "--max-tokens", "5", "--json");
        assertEquals(0, g.status(), g.err());
        Map<?, ?> json = (Map<?, ?>) MiniJson.parse(g.out());
        assertTrue(((List<?>) json.get("prompt_tokens")).size() >= 1);
        assertEquals(5, ((List<?>) json.get("generated_tokens")).size());
    }

    @Test
    void benchPrintsItsTable() {
        Run r = cli(
                "bench",
                "--model",
                storiesModel().toString(),
                "--prompt-tokens",
                "16",
                "--gen-tokens",
                "8",
                "--threads",
                "1",
                "--batch",
                "2",
                "--repeat",
                "2");
        assertEquals(0, r.status(), r.err());
        for (String row : List.of(
                "load time",
                "heap used after load",
                "prefill (16 tokens)",
                "decode, batch 2, aggregate",
                "decode, batch 2, per sequence",
                "peak RSS",
                "CPU share of 1 threads",
                "best of 2")) {
            assertTrue(r.out().contains(row), "bench output has " + row + ":\n" + r.out());
        }
    }

    @Test
    void helpAndUsageErrors() {
        Run help = cli("help");
        assertEquals(0, help.status());
        for (String c : List.of("generate", "synth", "bench"))
            assertTrue(help.out().contains(c));

        for (String[] bad : List.of(
                new String[] {"frobnicate"},
                new String[] {"generate", "--max-tokens", "many"},
                new String[] {"generate", "--bogus"},
                new String[] {"synth", "--shape", "gpt-5", "--out", "x"},
                new String[] {"synth", "--shape", "tiny"},
                new String[] {"bench", "--batch", "0"},
                new String[] {"generate", "--model", "/nonexistent/model.gguf"},
                new String[] {"synth", "--shape", "tiny", "--type", "Q3_K", "--out", "x"},
                new String[] {"generate", "--logprobs", "2"},
                new String[] {})) {
            Run r = cli(bad);
            assertEquals(2, r.status(), String.join(" ", bad) + " -> " + r.err());
            assertTrue(r.err().contains("usage: anvil"), r.err());
        }
    }
}
