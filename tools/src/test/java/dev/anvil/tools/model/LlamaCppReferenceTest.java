package dev.anvil.tools.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.tools.CliArgs;
import dev.anvil.tools.CommandFailedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaCppReferenceTest {

    private static final String OUTPUT = """
            main: n_kv_max = 768, n_batch = 2048, n_ubatch = 512, flash_attn = -1, n_threads = 2
            {"n_kv_max": 768, "n_batch": 2048, "n_ubatch": 512, "flash_attn": -1, "is_pp_shared": 0}
            {"pp": 128, "tg": 64, "pl": 1, "n_kv": 192, "t_pp": 0.5, "speed_pp": 256.0, "t_tg": 2.0, "speed_tg": 32.0, "t": 2.5, "speed": 76.8}
            {"pp": 128, "tg": 64, "pl": 4, "n_kv": 768, "t_pp": 1.6, "speed_pp": 320.0, "t_tg": 4.0, "speed_tg": 64.0, "t": 5.6, "speed": 137.1}
            llama_perf_context_print: load time = 10.00 ms
            """;

    @Test
    void readsTheLineOfTheConfigurationThatRan() {
        LlamaCppReference.Result one = LlamaCppReference.parse(OUTPUT, 128, 64, 1);
        assertEquals(256.0, one.prefillTokensPerSecond());
        assertEquals(32.0, one.decodeAggregate());
        LlamaCppReference.Result four = LlamaCppReference.parse(OUTPUT, 128, 64, 4);
        assertEquals(320.0, four.prefillTokensPerSecond());
        assertEquals(64.0, four.decodeAggregate());
    }

    @Test
    void aRunWithoutTheConfigurationsLineFailsWithWhatItPrinted() {
        CommandFailedException e =
                assertThrows(CommandFailedException.class, () -> LlamaCppReference.parse(OUTPUT, 256, 64, 1));
        assertTrue(e.getMessage().contains("pp 256"), e.getMessage());
        assertTrue(e.getMessage().contains("llama_perf_context_print"), e.getMessage());
    }

    @Test
    void theBetterOfTwoRunsCountsForEachFigure() {
        var best = new LlamaCppReference.Result(100, 20).best(new LlamaCppReference.Result(90, 25));
        assertEquals(100, best.prefillTokensPerSecond());
        assertEquals(25, best.decodeAggregate());
    }

    @Test
    void aBuildDirectoryWithoutTheToolIsAUsageError(@TempDir Path dir) {
        CliArgs.UsageException e = assertThrows(CliArgs.UsageException.class, () -> new LlamaCppReference(dir));
        assertTrue(e.getMessage().contains("llama-batched-bench"), e.getMessage());
    }

    @Test
    void runsTheSameWorkAsAnvilOnTheSameModel(@TempDir Path dir) throws IOException {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path tool = Files.createFile(
                bin.resolve("llama-batched-bench"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        List<String> cmd = new LlamaCppReference(dir).command(Path.of("m.gguf"), 128, 64, 2, 4);
        assertEquals(tool.toString(), cmd.get(0));
        String line = String.join(" ", cmd);
        for (String expected : List.of(
                "-m m.gguf", "-t 2", "-tb 2", "-npp 128", "-ntg 64", "-npl 4", "-c 768", "--output-format jsonl")) {
            assertTrue(line.contains(expected), line + " lacks " + expected);
        }
    }
}
