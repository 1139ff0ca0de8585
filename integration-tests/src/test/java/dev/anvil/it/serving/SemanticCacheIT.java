package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerMetrics;
import dev.anvil.it.TestModel;
import jakarta.json.Json;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The semantic cache on the running server (the IT server serves it for the model {@code semcache}, embedding
 * prompts with EmbeddingsIT's BERT model {@code it-embed}, minimum similarity 0.94): a prompt the exact cache cannot
 * match (other tokens for the generation model) but whose embedding is close enough is answered from the stored
 * response, with {@code X-Anvil-Cache: semantic-hit} and the similarity; an unrelated prompt, or the same prompt with
 * other parameters, is generated. With this model's random weights the similarities are fixed: the lower-cased prompt
 * embeds identically (WordPiece lower-cases), "a little dog" at 0.953, an unrelated sentence at 0.876.
 */
@ExtendWith(AnvilServerExtension.class)
class SemanticCacheIT {

    private static final String MODEL = "semcache";
    private static final String PROMPT = "Once upon a time there was a dog";

    @Test
    void similarPromptsAreAnsweredFromTheCacheAndOthersAreNot(AnvilServer server) {
        EmbeddingsIT.serve(server);
        TestModel.register(server, MODEL, "1.0.0");
        TestModel.moveStage(server, MODEL, "1.0.0", "PRODUCTION", "semantic cache IT");
        Eventually.until(
                () -> complete(server, "warm up", 1, Map.of("Cache-Control", "no-store")),
                r -> r.status() == 200,
                Duration.ofSeconds(60));
        double hitsBefore = ServerMetrics.firstOrZero(server, "anvil_cache_semantic_hits_total");
        double entriesBefore = ServerMetrics.firstOrZero(server, "anvil_cache_semantic_entries");

        HttpResult first = complete(server, PROMPT, 8, Map.of());
        assertEquals(200, first.status(), first::toString);
        assertEquals("miss", cacheStatus(first), first::toString);
        String answer = first.json().getJsonArray("choices").getJsonObject(0).getString("text");
        awaitIndexed(server, entriesBefore + 1); // entries are stored just after the answer

        HttpResult lower = complete(server, PROMPT.toLowerCase(), 8, Map.of());
        assertEquals("semantic-hit", cacheStatus(lower), "other tokens, the same meaning: " + lower);
        assertEquals(
                "1.0000", lower.headers().firstValue("X-Anvil-Cache-Similarity").orElse(null));
        assertEquals(
                answer, lower.json().getJsonArray("choices").getJsonObject(0).getString("text"));
        int ownPromptTokens = complete(server, PROMPT.toLowerCase(), 8, Map.of("Cache-Control", "no-store"))
                .json()
                .getJsonObject("usage")
                .getInt("prompt_tokens");
        assertEquals(
                ownPromptTokens,
                lower.json().getJsonObject("usage").getInt("prompt_tokens"),
                "the caller is told (and billed) its own prompt's tokens");

        HttpResult close = complete(server, "Once upon a time there was a little dog", 8, Map.of());
        assertEquals("semantic-hit", cacheStatus(close), close::toString);
        double similarity = Double.parseDouble(
                close.headers().firstValue("X-Anvil-Cache-Similarity").orElseThrow());
        assertTrue(similarity >= 0.94 && similarity < 1, "similar, not the same: " + similarity);

        awaitIndexed(server, entriesBefore + 1);
        HttpResult unrelated = complete(server, "The stock market fell sharply today", 8, Map.of());
        assertEquals("miss", cacheStatus(unrelated), "below the minimum similarity: " + unrelated);
        assertFalse(unrelated.headers().firstValue("X-Anvil-Cache-Similarity").isPresent());

        HttpResult otherLimit = complete(server, PROMPT.toLowerCase(), 5, Map.of());
        assertEquals("miss", cacheStatus(otherLimit), "other parameters never share an answer: " + otherLimit);

        HttpResult noCache = complete(server, PROMPT.toLowerCase(), 8, Map.of("Cache-Control", "no-cache"));
        assertEquals("no-cache", cacheStatus(noCache), "no-cache skips the semantic cache too");

        assertEquals(hitsBefore + 2, ServerMetrics.firstOrZero(server, "anvil_cache_semantic_hits_total"), 1e-9);
        assertTrue(ServerMetrics.firstOrZero(server, "anvil_cache_semantic_entries") >= 2);
    }

    /** Waits (bounded) until the semantic index holds {@code entries} vectors. */
    private static void awaitIndexed(AnvilServer server, double entries) {
        double indexed = Eventually.value(
                () -> ServerMetrics.firstOrZero(server, "anvil_cache_semantic_entries"),
                n -> n >= entries,
                Duration.ofSeconds(20));
        assertTrue(indexed >= entries, "indexed: " + indexed);
    }

    private static String cacheStatus(HttpResult r) {
        return r.headers().firstValue("X-Anvil-Cache").orElse(null);
    }

    private static HttpResult complete(AnvilServer server, String prompt, int maxTokens, Map<String, String> headers) {
        var h = new java.util.HashMap<>(headers);
        h.put("Content-Type", "application/json");
        return server.request(
                "POST",
                "/v1/completions",
                Json.createObjectBuilder()
                        .add("model", MODEL)
                        .add("prompt", prompt)
                        .add("max_tokens", maxTokens)
                        .add("temperature", 0)
                        .build()
                        .toString(),
                h);
    }
}
