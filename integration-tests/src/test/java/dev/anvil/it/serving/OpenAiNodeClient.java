package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The official {@code openai} npm client, as locked in {@code src/test/node/openai-client}, installed with {@code npm
 * ci} into {@code target/openai-node} on first use (so the ITs that drive it need Node.js, npm and the npm registry),
 * and ES modules run against the server with {@code node}.
 */
final class OpenAiNodeClient {

    private OpenAiNodeClient() {}

    /** The directory with {@code node_modules/openai}, installed exactly as locked when it is not yet. */
    static synchronized Path install() throws Exception {
        Path dir = Path.of("target/openai-node").toAbsolutePath();
        Files.createDirectories(dir);
        if (!Files.isDirectory(dir.resolve("node_modules/openai"))) {
            Path locked = Path.of("src/test/node/openai-client").toAbsolutePath();
            for (String f : List.of("package.json", "package-lock.json"))
                Files.copy(locked.resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            run(dir, 300, "npm", "ci", "--no-audit", "--no-fund", "--silent");
        }
        return dir;
    }

    /** Writes {@code source} as {@code name} beside the client and runs it with {@code args}; its last line as JSON. */
    static JsonObject runScript(String name, String source, int timeoutSeconds, String... args) throws Exception {
        Path dir = install();
        Path script = dir.resolve(name);
        Files.writeString(script, source);
        String[] command = new String[args.length + 2];
        command[0] = "node";
        command[1] = script.toString();
        System.arraycopy(args, 0, command, 2, args.length);
        String out = run(dir, timeoutSeconds, command);
        try (JsonReader r = Json.createReader(
                new StringReader(out.strip().lines().reduce((a, b) -> b).orElseThrow()))) {
            return r.readObject();
        }
    }

    /** Runs a command in {@code dir}, failing the test on a non-zero exit; returns its standard output. */
    static String run(Path dir, int timeoutSeconds, String... command) throws IOException, InterruptedException {
        Path log = Files.createTempFile(dir, "run", ".log");
        Process p = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        boolean done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!done) p.destroyForcibly();
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(done && p.exitValue() == 0, () -> String.join(" ", command) + " failed:\n" + output);
        return output;
    }
}
