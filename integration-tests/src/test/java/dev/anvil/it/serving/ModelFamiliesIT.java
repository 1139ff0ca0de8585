package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.GgufFile;
import dev.anvil.engine.GgufWriter;
import dev.anvil.engine.Tokenizer;
import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each model family the engine runs, served through the OpenAI API with its own published chat template: the
 * reference model of the family ({@code ../shared/reference/arch/}, random weights in the family's architecture)
 * written with the template its real models carry in {@code tokenizer.chat_template}, registered, and asked for a
 * plain and a streamed chat completion. The prompt the server built must be the template's rendering exactly as
 * Hugging Face renders it ({@code ../shared/reference/chat-templates/}), tokenized with special tokens recognised;
 * streaming must give the same greedy text as the plain answer.
 */
@ExtendWith(AnvilServerExtension.class)
class ModelFamiliesIT {

    private static final Path ARCH = Path.of(System.getProperty("anvil.shared.dir", "../../shared"), "reference/arch")
            .toAbsolutePath()
            .normalize();
    private static final Path TEMPLATES = Path.of(
                    System.getProperty("anvil.shared.dir", "../../shared"), "reference/chat-templates")
            .toAbsolutePath()
            .normalize();

    /**
     * Reference model file and the published template of its family. The Gemma 3 reference model is served with
     * Gemma 2's template: the turn format is the same and the reference set carries no Gemma 3 template.
     */
    static Stream<Arguments> families() {
        return Stream.of(
                Arguments.of("qwen2-q8_0", "Qwen-Qwen2.5-7B-Instruct"),
                Arguments.of("qwen3-q4_k_m", "Qwen-Qwen3-0.6B"),
                Arguments.of("gemma2-f16", "google-gemma-2-2b-it"),
                Arguments.of("gemma3-q8_0", "google-gemma-2-2b-it"),
                Arguments.of("phi3-q4_k_m", "microsoft-Phi-3.5-mini-instruct"),
                Arguments.of("llama3-q6_k", "meta-llama-Llama-3.1-8B-Instruct"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("families")
    void aFamilyServesPlainAndStreamedChatWithItsOwnTemplate(String file, String template, AnvilServer server)
            throws IOException {
        Path source = ARCH.resolve(file + ".gguf");
        assertTrue(Files.isRegularFile(source), "reference model missing: " + source);
        String model = "family-" + file.replace('_', '-');
        Path served = withTemplate(source, model, Files.readString(TEMPLATES.resolve(template + ".jinja")));
        HttpResult registered = server.post(
                "/api/registry/models/" + model + "/versions",
                Json.createObjectBuilder()
                        .add("version", "1.0.0")
                        .add("path", served.toString())
                        .build()
                        .toString());
        assertEquals(201, registered.status(), registered::toString);
        assertEquals(architecture(source), registered.json().getString("architecture", null), registered::toString);

        // The template's first case, a single user turn with the generation prompt (every template renders it).
        JsonObject firstCase = firstCase(template);
        assertEquals(1, firstCase.getJsonArray("messages").size(), "the first case is a single user turn");
        String body = Json.createObjectBuilder()
                .add("model", model + "@1.0.0")
                .add("messages", firstCase.getJsonArray("messages"))
                .add("max_tokens", 6)
                .add("temperature", 0)
                .build()
                .toString();
        HttpResult plain = server.request("POST", "/v1/chat/completions", body, OpenAi.UNCACHED_AS_ADMIN);
        assertEquals(200, plain.status(), plain::toString);
        JsonObject usage = plain.json().getJsonObject("usage");
        assertEquals(
                expectedPromptTokens(source, firstCase),
                usage.getInt("prompt_tokens"),
                "the prompt is the published rendering, special tokens as single tokens: " + plain);
        JsonObject choice = plain.json().getJsonArray("choices").getJsonObject(0);
        String text = choice.getJsonObject("message").getString("content");
        assertTrue(usage.getInt("completion_tokens") > 0, plain::toString);

        String streamBody = Json.createObjectBuilder(
                        Json.createReader(new StringReader(body)).readObject())
                .add("stream", true)
                .build()
                .toString();
        OpenAi.Stream stream = OpenAi.stream(server, "/v1/chat/completions", streamBody, OpenAi.UNCACHED_AS_ADMIN);
        assertEquals(200, stream.status(), stream::toString);
        assertTrue(stream.done(), stream::toString);
        assertEquals(text, stream.text(), "greedy: the streamed text is the plain answer's");
        JsonObject lastChoice = stream.last().getJsonArray("choices").getJsonObject(0);
        assertEquals(choice.getString("finish_reason"), lastChoice.getString("finish_reason"), stream::toString);
        assertFalse(lastChoice.isNull("finish_reason"), stream::toString);
    }

    /** {@code source} with {@code tokenizer.chat_template} set, as target/families/NAME.gguf. */
    private static Path withTemplate(Path source, String name, String template) throws IOException {
        Path dir = Files.createDirectories(Path.of("target", "families").toAbsolutePath());
        try (GgufFile in = GgufFile.open(source)) {
            return GgufWriter.copy(in, dir.resolve(name + ".gguf"), Map.of("tokenizer.chat_template", template));
        }
    }

    private static String architecture(Path gguf) throws IOException {
        try (GgufFile f = GgufFile.open(gguf)) {
            return f.getString("general.architecture", null);
        }
    }

    private static JsonObject firstCase(String template) {
        try (Stream<String> lines = Files.lines(TEMPLATES.resolve(template + ".cases.jsonl"))) {
            String line = lines.findFirst().orElseThrow();
            return Json.createReader(new StringReader(line)).readObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * What llama.cpp's server makes of the case's published rendering for this model: the reference files carry other
     * vocabularies than the real models, so the rendering's BOS text is the model's own; special-token texts are
     * parsed as their ids, and BOS is added when the vocabulary asks for it unless the template wrote it already.
     */
    private static int expectedPromptTokens(Path gguf, JsonObject testCase) throws IOException {
        try (GgufFile f = GgufFile.open(gguf)) {
            Tokenizer tokenizer = Tokenizer.fromGguf(f);
            String rendered = testCase.getString("expected");
            JsonValue caseBos = testCase.get("bos_token");
            if (caseBos instanceof jakarta.json.JsonString bos && tokenizer.bos() >= 0)
                rendered = rendered.replace(bos.getString(), tokenizer.tokenText(tokenizer.bos()));
            boolean addBos = tokenizer.addBosByDefault()
                    && tokenizer.bos() >= 0
                    && !rendered.startsWith(tokenizer.tokenText(tokenizer.bos()));
            return tokenizer.encodeWithSpecials(rendered, addBos).length;
        }
    }
}
