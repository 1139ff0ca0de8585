package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.GgufFile;
import dev.anvil.engine.GgufWriter;
import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerMetrics;
import dev.anvil.it.TestModel;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Speculative decoding through the OpenAI API. The IT server names {@code specdraft@1.0.0} as the draft model of
 * {@code specdecode} ({@code anvil.serving.speculative.method=draft}, {@code draft-models=specdecode=specdraft@1.0.0});
 * this test registers {@code specdecode@1.0.0} with the stories260K file every other test serves as
 * {@code stories260k} (without speculation), and as the draft a copy of that file whose RMSNorm epsilon is 0.3, so
 * the draft has the target's vocabulary but other numerics and many of its drafts are rejected. Greedy output must be
 * the same text, token for token, from both names: completions and chat, plain and streamed (several tokens arrive per
 * batching step when drafts are kept); the speculative metrics count the drafts.
 */
@ExtendWith(AnvilServerExtension.class)
class SpeculativeDecodingIT {

    private static final String TARGET = "specdecode";
    private static final String PLAIN = OpenAi.MODEL;

    @BeforeAll
    static void serve(AnvilServer server) throws IOException {
        Path dir = Files.createDirectories(Path.of("target", "speculative").toAbsolutePath());
        Path draft;
        try (GgufFile in = GgufFile.open(TestModel.file())) {
            draft = GgufWriter.copy(
                    in, dir.resolve("specdraft.gguf"), Map.of("llama.attention.layer_norm_rms_epsilon", 0.3f));
        }
        HttpResult registered = server.post(
                "/api/registry/models/specdraft/versions",
                Json.createObjectBuilder()
                        .add("version", "1.0.0")
                        .add("path", draft.toString())
                        .build()
                        .toString());
        assertEquals(201, registered.status(), registered::toString);
        TestModel.register(server, TARGET, "1.0.0");
        TestModel.moveStage(server, TARGET, "1.0.0", "PRODUCTION", "speculative decoding IT");
        HttpResult models = Eventually.until(
                () -> server.get("/v1/models"),
                r -> r.status() == 200 && r.body().contains("\"" + TARGET + "\""),
                Duration.ofSeconds(60));
        assertTrue(models.body().contains("\"" + TARGET + "\""), () -> models + "; server log " + server.serverLog());
    }

    private static final String[] PROMPTS = {
        "Once upon a time", "The little dog ran to the park and", "Lily wanted to play with her friend"
    };

    private static String completion(String model, String prompt, int maxTokens, String extra) {
        return "{\"model\":\"" + model + "\",\"prompt\":" + OpenAi.quote(prompt) + ",\"max_tokens\":" + maxTokens
                + ",\"temperature\":0" + extra + "}";
    }

    private static String chat(String model, String user, int maxTokens, String extra) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":" + OpenAi.quote(user)
                + "}],\"max_tokens\":" + maxTokens + ",\"temperature\":0" + extra + "}";
    }

    private static JsonObject ok(HttpResult r) {
        assertEquals(200, r.status(), r::toString);
        return r.json();
    }

    private static double metric(AnvilServer server, String name) {
        return ServerMetrics.firstOrZero(server, name, "model=\"" + TARGET + "\"");
    }

    @Test
    void greedyOutputIsIdenticalWithAndWithoutSpeculation(AnvilServer server) {
        double draftedBefore = metric(server, "anvil_inference_speculative_drafted_tokens");
        double acceptedBefore = metric(server, "anvil_inference_speculative_accepted_tokens");
        for (String prompt : PROMPTS) {
            // /v1/completions, with logprobs: the same tokens with the same log-probabilities.
            String extra = ",\"logprobs\":2";
            JsonObject plain = ok(OpenAi.postUncached(server, "/v1/completions", completion(PLAIN, prompt, 80, extra)));
            JsonObject spec = ok(OpenAi.postUncached(server, "/v1/completions", completion(TARGET, prompt, 80, extra)));
            JsonObject p = plain.getJsonArray("choices").getJsonObject(0);
            JsonObject s = spec.getJsonArray("choices").getJsonObject(0);
            assertEquals(p.getString("text"), s.getString("text"), "completion of '" + prompt + "'");
            assertEquals(p.getString("finish_reason"), s.getString("finish_reason"));
            assertEquals(p.getJsonObject("logprobs"), s.getJsonObject("logprobs"), "logprobs of '" + prompt + "'");
            assertEquals(
                    plain.getJsonObject("usage").getInt("completion_tokens"),
                    spec.getJsonObject("usage").getInt("completion_tokens"));

            // A stop string and a short limit end it exactly where they end it without speculation.
            JsonObject stopPlain = ok(
                    OpenAi.postUncached(server, "/v1/completions", completion(PLAIN, prompt, 60, ",\"stop\":[\".\"]")));
            JsonObject stopSpec = ok(OpenAi.postUncached(
                    server, "/v1/completions", completion(TARGET, prompt, 60, ",\"stop\":[\".\"]")));
            assertEquals(
                    stopPlain.getJsonArray("choices").getJsonObject(0).getString("text"),
                    stopSpec.getJsonArray("choices").getJsonObject(0).getString("text"));
            assertEquals(
                    stopPlain.getJsonArray("choices").getJsonObject(0).getString("finish_reason"),
                    stopSpec.getJsonArray("choices").getJsonObject(0).getString("finish_reason"));

            // Streamed completions: the concatenated deltas are the same text.
            assertEquals(
                    p.getString("text"),
                    streamedText(server, "/v1/completions", completion(TARGET, prompt, 80, ",\"stream\":true")));

            // Chat, plain and streamed.
            String chatPlain =
                    message(ok(OpenAi.postUncached(server, "/v1/chat/completions", chat(PLAIN, prompt, 60, ""))));
            String chatSpec =
                    message(ok(OpenAi.postUncached(server, "/v1/chat/completions", chat(TARGET, prompt, 60, ""))));
            assertEquals(chatPlain, chatSpec, "chat answer to '" + prompt + "'");
            assertEquals(
                    chatPlain,
                    streamedText(server, "/v1/chat/completions", chat(TARGET, prompt, 60, ",\"stream\":true")));
        }
        double drafted = metric(server, "anvil_inference_speculative_drafted_tokens") - draftedBefore;
        double accepted = metric(server, "anvil_inference_speculative_accepted_tokens") - acceptedBefore;
        assertTrue(drafted > 0, "drafts were verified");
        assertTrue(accepted > 0 && accepted < drafted, "some drafts kept, some rejected: " + accepted + "/" + drafted);
        double rate = metric(server, "anvil_inference_speculative_acceptance_rate");
        assertTrue(rate > 0 && rate < 1, "acceptance rate " + rate);
        // The plain name does not speculate: no speculative gauges for it.
        assertEquals(
                0.0,
                ServerMetrics.firstOrZero(
                        server, "anvil_inference_speculative_drafted_tokens", "model=\"" + PLAIN + "\""));
        // Every KV block came back (the draft's too: its cache is the target's runtime's).
        assertEquals(
                0.0,
                OpenAi.pollUntil(
                        () -> ServerMetrics.firstOrZero(
                                server, "anvil_inference_kv_blocks_used", "model=\"" + TARGET + "\""),
                        0.0,
                        Duration.ofSeconds(10)));
    }

    private static String message(JsonObject chat) {
        return chat.getJsonArray("choices")
                .getJsonObject(0)
                .getJsonObject("message")
                .getString("content");
    }

    /** The text of a stream's deltas (completions' {@code text}, chat's {@code delta.content}), in order. */
    private static String streamedText(AnvilServer server, String path, String body) {
        OpenAi.Stream stream = OpenAi.stream(server, path, body, OpenAi.UNCACHED);
        assertEquals(200, stream.status(), stream::toString);
        assertTrue(stream.done(), "the stream ends with [DONE]");
        return stream.text();
    }
}
