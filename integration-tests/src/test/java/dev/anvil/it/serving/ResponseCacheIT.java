package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerMetrics;
import dev.anvil.it.TestModel;
import dev.anvil.tools.server.MetricSamples;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The response cache (Infinispan cache {@code anvil/responses} of the server's infinispan subsystem) on the real
 * server: hits answer the same content without inference (the inference counters of /metrics stay put while the
 * cache's hit counter moves), streamed requests are replayed, Cache-Control opts out, random sampling is never
 * cached, and a stage change of a version removes its entries. Every test uses prompts of its own, so tests and
 * the two database runs never share entries.
 */
@ExtendWith(AnvilServerExtension.class)
class ResponseCacheIT {

    private static final String HEADER = "X-Anvil-Cache";
    private static final Map<String, String> JSON = Map.of("Content-Type", "application/json");

    private String unique;

    @BeforeEach
    void uniqueWords(TestInfo info) {
        unique = info.getTestMethod().orElseThrow().getName().length() + "-" + Long.toString(System.nanoTime(), 36);
    }

    // --- helpers -----------------------------------------------------------------------------------

    /** A prompt no other test sends. */
    private String prompt(String text) {
        return text + " (" + unique + ")";
    }

    private static double metric(AnvilServer server, String name, String... labels) {
        return ServerMetrics.sum(server, name, labels);
    }

    /** Requests that reached the inference service for {@code model} (any outcome, any version). */
    private static double inferences(AnvilServer server, String model) {
        return metric(server, "anvil_inference_requests_total", "model=\"" + model + "\"");
    }

    private static double stores(AnvilServer server) {
        return metric(server, "anvil_cache_stores_total");
    }

    /** Waits until the store of a finished generation (it happens just after the answer) is counted. */
    private static void awaitStores(AnvilServer server, double atLeast) {
        double seen = OpenAi.pollUntil(() -> Math.min(stores(server), atLeast), atLeast, Duration.ofSeconds(20));
        assertEquals(atLeast, seen, "the generation was not stored in the response cache");
    }

    private static HttpResult post(AnvilServer server, String path, String body, String... headers) {
        Map<String, String> h = new java.util.HashMap<>(JSON);
        for (int i = 0; i < headers.length; i += 2) h.put(headers[i], headers[i + 1]);
        HttpResult r = server.request("POST", path, body, h);
        assertEquals(200, r.status(), r::toString);
        return r;
    }

    private static String cacheStatus(HttpResult r) {
        return r.headers().firstValue(HEADER).orElse("(none)");
    }

    /** The response without what differs per response (id, created). */
    private static JsonObject content(HttpResult r) {
        JsonObject json = r.json();
        return Json.createObjectBuilder(json).remove("id").remove("created").build();
    }

    /** {@link #content} without {@code usage.prompt_tokens_details}, which depends on what the prefix cache held. */
    private static JsonObject withoutCachedTokens(HttpResult r) {
        JsonObject c = content(r);
        JsonObject usage = Json.createObjectBuilder(c.getJsonObject("usage"))
                .remove("prompt_tokens_details")
                .build();
        return Json.createObjectBuilder(c).add("usage", usage).build();
    }

    private static int cachedTokens(HttpResult r) {
        return r.json()
                .getJsonObject("usage")
                .getJsonObject("prompt_tokens_details")
                .getInt("cached_tokens");
    }

    private static double serverTimingMillis(HttpResult r) {
        String timing = r.headers()
                .firstValue("Server-Timing")
                .orElseThrow(() -> new AssertionError("no Server-Timing in " + r));
        Matcher m = Pattern.compile("dur=([0-9.]+)").matcher(timing);
        assertTrue(m.find(), timing);
        return Double.parseDouble(m.group(1));
    }

    // --- tests -------------------------------------------------------------------------------------

    @Test
    void aHitAnswersTheSameContentWithoutInference(AnvilServer server) {
        String completion = OpenAi.completion(prompt("Once upon a time"), 16, "\"temperature\":0");
        String chat = OpenAi.chat(prompt("Tell me a story"), 12, "\"temperature\":0");
        // n > 1 with a fixed seed and log-probabilities: every choice and its logprobs come back alike.
        String sampled = OpenAi.completion(
                prompt("The little dog"), 8, "\"temperature\":0.9,\"seed\":42,\"n\":2,\"logprobs\":2");
        double stored = stores(server);
        HttpResult[] first = new HttpResult[3];
        String[][] requests = {
            {"/v1/completions", completion}, {"/v1/chat/completions", chat}, {"/v1/completions", sampled}
        };
        for (int i = 0; i < requests.length; i++) {
            first[i] = post(server, requests[i][0], requests[i][1]);
            assertEquals("miss", cacheStatus(first[i]), first[i]::toString);
        }
        awaitStores(server, stored + 3);

        double inferences = inferences(server, OpenAi.MODEL);
        double hits = metric(server, "anvil_cache_hits_total");
        double promptTokens = metric(server, "anvil_inference_prompt_tokens_total", "model=\"" + OpenAi.MODEL + "\"");
        for (int i = 0; i < requests.length; i++) {
            HttpResult again = post(server, requests[i][0], requests[i][1]);
            assertEquals("hit", cacheStatus(again), again::toString);
            assertEquals(content(first[i]), content(again), "a hit answers what the generation answered");
            assertNotEquals(
                    first[i].json().getString("id"), again.json().getString("id"), "every response has its own id");
            assertTrue(serverTimingMillis(again) >= 0, again::toString);
            assertTrue(
                    again.headers().firstValue("Server-Timing").orElse("").contains("cpu;dur="),
                    "a plain hit is answered on the request thread, whose CPU time is given: " + again);
            assertTrue(
                    again.headers().firstValue("Server-Timing").orElse("").contains("cache;desc=\"stage\";dur="),
                    again::toString);
        }
        assertEquals(2, first[2].json().getJsonArray("choices").size());
        assertTrue(
                first[2].json()
                                .getJsonArray("choices")
                                .getJsonObject(1)
                                .getJsonObject("logprobs")
                                .getJsonArray("top_logprobs")
                                .size()
                        > 0,
                first[2]::toString);

        MetricSamples after = ServerMetrics.application(server);
        assertEquals(
                inferences,
                after.sum("anvil_inference_requests_total", "model=\"" + OpenAi.MODEL + "\""),
                "hits must not reach the inference service");
        assertEquals(promptTokens, after.sum("anvil_inference_prompt_tokens_total", "model=\"" + OpenAi.MODEL + "\""));
        assertEquals(hits + 3, after.sum("anvil_cache_hits_total"));
        double ratio = after.sum("anvil_cache_hit_ratio");
        assertTrue(ratio > 0 && ratio <= 1, "hit ratio " + ratio);
        assertTrue(after.sum("anvil_cache_hit_time_seconds_count") >= 3, "hit times are recorded");
        assertTrue(after.sum("anvil_cache_entries") >= 3, "the container's statistics count the entries");
        assertTrue(after.sum("anvil_cache_evictions") >= 0, "the container's eviction statistic is readable");
        assertEquals(
                1.0,
                after.sum("anvil_cache_cluster_members"),
                "a single server's local cache is shared by no other node");
    }

    @Test
    void streamedRequestsAreReplayedFromTheCache(AnvilServer server) {
        String plainBody = OpenAi.completion(prompt("Once upon a time"), 12, "\"temperature\":0");
        String streamBody = OpenAi.completion(
                prompt("Once upon a time"),
                12,
                "\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}");
        double stored = stores(server);
        OpenAi.Stream live = OpenAi.stream(server, "/v1/completions", streamBody);
        assertEquals(200, live.status(), live::toString);
        assertEquals("miss", live.headers().firstValue(HEADER).orElse(""), live::toString);
        awaitStores(server, stored + 1);

        double inferences = inferences(server, OpenAi.MODEL);
        OpenAi.Stream replay = OpenAi.stream(server, "/v1/completions", streamBody);
        assertEquals("hit", replay.headers().firstValue(HEADER).orElse(""), replay::toString);
        assertTrue(replay.done(), "a replay ends with [DONE]: " + replay);
        assertEquals(live.events().size(), replay.events().size(), "the same chunks: " + live + " / " + replay);
        for (int i = 0; i < live.events().size(); i++) {
            assertEquals(
                    OpenAi.chunkText(live.events().get(i)),
                    OpenAi.chunkText(replay.events().get(i)),
                    "chunk " + i);
        }
        assertEquals(live.last().getJsonObject("usage"), replay.last().getJsonObject("usage"), "usage when asked for");
        JsonObject finish = replay.events()
                .get(replay.events().size() - 2)
                .getJsonArray("choices")
                .getJsonObject(0);
        assertEquals("length", finish.getString("finish_reason"), replay::toString);

        // The same generation answers the plain request, and a chat stream after a plain chat request.
        HttpResult plain = post(server, "/v1/completions", plainBody);
        assertEquals("hit", cacheStatus(plain), plain::toString);
        assertEquals(
                live.text(),
                plain.json().getJsonArray("choices").getJsonObject(0).getString("text"));

        String chatPlain = OpenAi.chat(prompt("Tell me a story"), 10, "\"temperature\":0");
        HttpResult chatFirst = post(server, "/v1/chat/completions", chatPlain);
        awaitStores(server, stored + 2);
        OpenAi.Stream chatReplay = OpenAi.stream(
                server,
                "/v1/chat/completions",
                OpenAi.chat(prompt("Tell me a story"), 10, "\"temperature\":0,\"stream\":true"));
        assertEquals("hit", chatReplay.headers().firstValue(HEADER).orElse(""), chatReplay::toString);
        assertTrue(chatReplay.done(), chatReplay::toString);
        assertEquals(
                "assistant",
                chatReplay
                        .events()
                        .getFirst()
                        .getJsonArray("choices")
                        .getJsonObject(0)
                        .getJsonObject("delta")
                        .getString("role"),
                chatReplay::toString);
        assertEquals(
                chatFirst
                        .json()
                        .getJsonArray("choices")
                        .getJsonObject(0)
                        .getJsonObject("message")
                        .getString("content"),
                chatReplay.text());
        assertEquals(inferences, inferences(server, OpenAi.MODEL) - 1, "only the plain chat request ran the model");
    }

    @Test
    void cacheControlOptsOut(AnvilServer server) {
        String body = OpenAi.completion(prompt("The little dog"), 8, "\"temperature\":0");
        double stored = stores(server);
        HttpResult first = post(server, "/v1/completions", body);
        awaitStores(server, stored + 1);

        double inferences = inferences(server, OpenAi.MODEL);
        double hits = metric(server, "anvil_cache_hits_total");
        HttpResult noCache = post(server, "/v1/completions", body, "Cache-Control", "no-cache");
        assertEquals("no-cache", cacheStatus(noCache), noCache::toString);
        // The model answers the same; only the serving detail differs: the rerun finds its prompt's blocks in the
        // engine's prefix cache, which the first generation filled.
        assertEquals(withoutCachedTokens(first), withoutCachedTokens(noCache), "the model answers the same");
        assertTrue(
                cachedTokens(noCache) >= cachedTokens(first) && cachedTokens(noCache) > 0,
                "the rerun prefilled from the prefix cache: " + noCache);
        assertEquals(inferences + 1, inferences(server, OpenAi.MODEL), "no-cache runs the model");
        assertEquals(hits, metric(server, "anvil_cache_hits_total"));

        // no-store: not read, and its generation is not stored, so the next plain request is a miss.
        String other = OpenAi.completion(prompt("A cat sat"), 8, "\"temperature\":0");
        HttpResult noStore = post(server, "/v1/completions", other, "Cache-Control", "no-store");
        assertEquals("no-store", cacheStatus(noStore), noStore::toString);
        HttpResult next = post(server, "/v1/completions", other);
        assertEquals("miss", cacheStatus(next), "a no-store generation must not have been stored: " + next);
        assertEquals(inferences + 3, inferences(server, OpenAi.MODEL));
    }

    @Test
    void randomSamplingIsNeverCached(AnvilServer server) {
        String body = OpenAi.completion(prompt("Once upon a time"), 6, "\"temperature\":0.8");
        double inferences = inferences(server, OpenAi.MODEL);
        double skipped = metric(server, "anvil_cache_skips_total", "reason=\"not_deterministic\"");
        double stored = stores(server);
        for (int i = 0; i < 3; i++) {
            HttpResult r = post(server, "/v1/completions", body);
            assertEquals("uncacheable", cacheStatus(r), r::toString);
        }
        OpenAi.Stream stream = OpenAi.stream(
                server,
                "/v1/completions",
                OpenAi.completion(prompt("Once upon a time"), 6, "\"temperature\":0.8,\"stream\":true"));
        assertEquals("uncacheable", stream.headers().firstValue(HEADER).orElse(""), stream::toString);
        assertEquals(inferences + 4, inferences(server, OpenAi.MODEL), "every request ran the model");
        assertEquals(skipped + 4, metric(server, "anvil_cache_skips_total", "reason=\"not_deterministic\""));
        assertEquals(stored, stores(server), "nothing was stored");
    }

    @Test
    void promotingAVersionRemovesItsEntries(AnvilServer server) {
        String model = "cache-" + unique;
        TestModel.register(server, model, "1.0.0", "2.0.0");
        TestModel.moveStage(server, model, "1.0.0", "PRODUCTION", "cache it");
        TestModel.moveStage(server, model, "2.0.0", "STAGING", "cache it");

        String plain =
                "{\"model\":\"" + model + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"temperature\":0}";
        String pinned = plain.replace("\"" + model + "\"", "\"" + model + "@2.0.0\"");
        HttpResult v1 = untilServed(server, plain, model + "@1.0.0");
        assertEquals("miss", cacheStatus(v1), v1::toString);
        double stored = stores(server);
        // 2.0.0 is STAGING: its pin is sent with an admin's credentials, who may pin any version.
        String admin = AnvilServer.basicAuth(AnvilServer.ADMIN_USER);
        HttpResult v2 = untilServed(
                server, pinned, model + "@2.0.0", Map.of("Content-Type", "application/json", "Authorization", admin));
        assertEquals("miss", cacheStatus(v2), v2::toString);
        awaitStores(server, stored + 1);
        HttpResult v2Again = post(server, "/v1/completions", pinned, "Authorization", admin);
        assertEquals("hit", cacheStatus(v2Again), "2.0.0's entry is there before the promotion: " + v2Again);

        double invalidated = metric(server, "anvil_cache_invalidations_total");
        TestModel.moveStage(server, model, "2.0.0", "PRODUCTION", "cache it");
        assertTrue(
                metric(server, "anvil_cache_invalidations_total") >= invalidated + 1,
                "the promotion removed 2.0.0's entry (and 1.0.0's, archived)");
        // The same request, now served by 2.0.0 through the model name: a miss, since 2.0.0's entry is gone.
        HttpResult promoted = untilServed(server, plain, model + "@2.0.0");
        assertEquals("miss", cacheStatus(promoted), "the entry of a promoted version must be gone: " + promoted);
        assertEquals(
                content(v2).getJsonArray("choices"),
                content(promoted).getJsonArray("choices"),
                "same model file, same text");
    }

    /**
     * Sends {@code body} until it is answered by {@code ref} (the version loads in the background, and a name
     * switches to its promoted version shortly after the promotion); returns that first answer.
     */
    private static HttpResult untilServed(AnvilServer server, String body, String ref) {
        return untilServed(server, body, ref, JSON);
    }

    private static HttpResult untilServed(AnvilServer server, String body, String ref, Map<String, String> headers) {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(180));
        HttpResult last = null;
        while (Instant.now().isBefore(deadline)) {
            last = server.request("POST", "/v1/completions", body, headers);
            if (last.status() == 200 && ref.equals(last.json().getString("model"))) return last;
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        throw new AssertionError(ref + " did not answer within 180 s; last answer: " + last);
    }
}
