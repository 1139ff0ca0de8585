package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerMetrics;
import jakarta.json.JsonObject;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Automatic prefix caching through the OpenAI API on stories260k: a request whose prompt starts like an earlier one
 * reports the reused prompt tokens as {@code usage.prompt_tokens_details.cached_tokens} (plain and in the streamed
 * usage chunk), generates exactly what it generates with nothing cached, and the metrics count the hits.
 */
@ExtendWith(AnvilServerExtension.class)
class PrefixCachingIT {

    private static final String[] WORDS = {
        "the", "little", "girl", "saw", "a", "big", "red", "ball", "in", "park", "and", "her", "dog", "ran", "to",
        "tree", "sun", "was", "happy", "mom", "said", "they", "played", "all", "day", "with", "friends", "bird"
    };

    /** A system prompt no other test (or earlier run against this server) sent: nothing of it is cached yet. */
    private static String freshSystemPrompt(long seed) {
        Random r = new Random(seed);
        StringBuilder sb = new StringBuilder("Story " + seed + ":");
        for (int i = 0; i < 90; i++) sb.append(' ').append(WORDS[r.nextInt(WORDS.length)]);
        return sb.append('.').toString();
    }

    private static String chat(String system, String user, String extra) {
        return "{\"model\":\"" + OpenAi.MODEL + "\",\"messages\":[{\"role\":\"system\",\"content\":"
                + OpenAi.quote(system) + "},{\"role\":\"user\",\"content\":" + OpenAi.quote(user)
                + "}],\"max_tokens\":12,\"temperature\":0" + (extra.isEmpty() ? "" : "," + extra) + "}";
    }

    private static JsonObject usage(HttpResult r) {
        assertEquals(200, r.status(), r::toString);
        return r.json().getJsonObject("usage");
    }

    private static int cached(JsonObject usage) {
        return usage.getJsonObject("prompt_tokens_details").getInt("cached_tokens");
    }

    @Test
    void aSharedSystemPromptIsReusedAndReportedAsCachedTokens(AnvilServer server) {
        String system = freshSystemPrompt(System.nanoTime());
        double hitsBefore = ServerMetrics.firstOrZero(
                server, "anvil_inference_prefix_cache_hit_tokens_total", "model=\"" + OpenAi.MODEL + "\"");

        // Cold: nothing of this prompt is cached.
        HttpResult cold = OpenAi.postUncached(server, "/v1/chat/completions", chat(system, "Who was there?", ""));
        JsonObject coldUsage = usage(cold);
        assertEquals(0, cached(coldUsage), cold::toString);
        int promptTokens = coldUsage.getInt("prompt_tokens");
        assertTrue(promptTokens > 64, "the system prompt spans several KV blocks: " + cold);

        // Another user message after the same system prompt: the system prompt's full blocks are reused.
        HttpResult other = OpenAi.postUncached(server, "/v1/chat/completions", chat(system, "What happened?", ""));
        int hit = cached(usage(other));
        assertTrue(hit >= 64 && hit % 16 == 0 && hit < usage(other).getInt("prompt_tokens"), other::toString);

        // The cold request again, now mostly from the cache: the same greedy answer.
        HttpResult warm = OpenAi.postUncached(server, "/v1/chat/completions", chat(system, "Who was there?", ""));
        JsonObject warmUsage = usage(warm);
        assertEquals((promptTokens - 1) / 16 * 16, cached(warmUsage), "all but the last block: " + warm);
        assertEquals(promptTokens, warmUsage.getInt("prompt_tokens"));
        assertEquals(content(cold), content(warm), "output with cached prefix equals output without");

        // The streamed usage chunk reports it too.
        OpenAi.Stream stream = OpenAi.stream(
                server,
                "/v1/chat/completions",
                chat(system, "Where did they go?", "\"stream\":true,\"stream_options\":{\"include_usage\":true}"),
                OpenAi.UNCACHED);
        assertEquals(200, stream.status(), stream::toString);
        // (How much of the rendered user turn matches what is cached depends on the message, the system prompt not.)
        int streamed = cached(stream.last().getJsonObject("usage"));
        assertTrue(streamed >= 64 && streamed % 16 == 0, stream::toString);

        // /v1/completions: the same prompt a second time comes from the cache, all but its last block.
        String body = "{\"model\":\"" + OpenAi.MODEL + "\",\"prompt\":" + OpenAi.quote(system + " Then")
                + ",\"max_tokens\":8,\"temperature\":0}";
        OpenAi.postUncached(server, "/v1/completions", body);
        JsonObject second = usage(OpenAi.postUncached(server, "/v1/completions", body));
        int promptLength = second.getInt("prompt_tokens");
        assertEquals((promptLength - 1) / 16 * 16, cached(second), second::toString);

        double hitsAfter = ServerMetrics.sum(
                server, "anvil_inference_prefix_cache_hit_tokens_total", "model=\"" + OpenAi.MODEL + "\"");
        assertTrue(hitsAfter - hitsBefore >= hit + cached(warmUsage) + streamed + cached(second), "hit tokens counted");
        assertTrue(
                ServerMetrics.sum(
                                server,
                                "anvil_inference_prefix_cache_queried_tokens_total",
                                "model=\"" + OpenAi.MODEL + "\"")
                        >= hitsAfter,
                "queried tokens counted");
        assertTrue(
                ServerMetrics.sum(server, "anvil_inference_prefix_cache_blocks", "model=\"" + OpenAi.MODEL + "\"") >= 4,
                "the cached blocks stay after the requests ended");
    }

    private static String content(HttpResult r) {
        return r.json()
                .getJsonArray("choices")
                .getJsonObject(0)
                .getJsonObject("message")
                .getString("content");
    }
}
