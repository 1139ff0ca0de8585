package dev.anvil.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.SamplingParams;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResponseCacheKeysTest {

    private static CacheableRequest greedy(
            String version, List<int[]> prompts, Integer maxTokens, List<String> stop, int n, Integer logprobs) {
        return new CacheableRequest("m", version, prompts, SamplingParams.GREEDY, false, maxTokens, stop, n, logprobs);
    }

    private static String digest(CacheableRequest r) {
        return assertInstanceOf(ResponseCacheKeys.Derivation.Cacheable.class, ResponseCacheKeys.derive(r))
                .digest();
    }

    private static final List<int[]> PROMPT = List.of(new int[] {1, 2, 3});

    private static String parameters(CacheableRequest r) {
        return assertInstanceOf(ResponseCacheKeys.Derivation.Cacheable.class, ResponseCacheKeys.derive(r))
                .parametersDigest();
    }

    @Test
    void theParametersDigestIgnoresOnlyThePrompts() {
        CacheableRequest a = greedy("1.0.0", PROMPT, 8, List.of(), 1, null);
        CacheableRequest b = greedy("1.0.0", List.of(new int[] {9, 8, 7, 6}), 8, List.of(), 1, null);
        assertNotEquals(digest(a), digest(b), "other prompts, other entries");
        assertEquals(parameters(a), parameters(b), "but one semantic group");
        assertNotEquals(parameters(a), parameters(greedy("1.0.0", PROMPT, 9, List.of(), 1, null)), "max_tokens");
        assertNotEquals(parameters(a), parameters(greedy("1.0.0", PROMPT, 8, List.of("\n"), 1, null)), "stop");
        assertNotEquals(parameters(a), parameters(greedy("1.0.1", PROMPT, 8, List.of(), 1, null)), "version");
        assertNotEquals(parameters(a), parameters(greedy("1.0.0", PROMPT, 8, List.of(), 1, 2)), "logprobs");
        assertNotEquals(
                parameters(a),
                parameters(new CacheableRequest(
                        "m", "1.0.0", PROMPT, SamplingParams.GREEDY, false, 8, List.of(), 1, null, "acme")),
                "tenant");
        assertNotEquals(
                parameters(a),
                parameters(greedy("1.0.0", List.of(PROMPT.get(0), PROMPT.get(0)), 8, List.of(), 1, null)),
                "how many prompts");
        assertNotEquals(parameters(a), digest(a));
    }

    @Test
    void theSameRequestOfTwoTenantsHasTwoKeysAndAnonymousCallersShareOne() {
        String acme = digest(new CacheableRequest(
                "m", "1.0.0", PROMPT, SamplingParams.GREEDY, false, 8, List.of(), 1, null, "acme"));
        String globex = digest(new CacheableRequest(
                "m", "1.0.0", PROMPT, SamplingParams.GREEDY, false, 8, List.of(), 1, null, "globex"));
        String anonymous = digest(greedy("1.0.0", PROMPT, 8, List.of(), 1, null));
        assertNotEquals(acme, globex);
        assertNotEquals(acme, anonymous);
        assertEquals(
                acme,
                digest(new CacheableRequest(
                        "m", "1.0.0", PROMPT, SamplingParams.GREEDY, false, 8, List.of(), 1, null, "acme")));
        assertEquals(
                anonymous,
                digest(new CacheableRequest(
                        "m",
                        "1.0.0",
                        PROMPT,
                        SamplingParams.GREEDY,
                        false,
                        8,
                        List.of(),
                        1,
                        null,
                        CacheableRequest.ANONYMOUS_SCOPE)));
        // Length-prefixed: a scope cannot be shifted into the model name.
        assertNotEquals(
                digest(new CacheableRequest(
                        "bm", "1.0.0", PROMPT, SamplingParams.GREEDY, false, 8, List.of(), 1, null, "a")),
                digest(new CacheableRequest(
                        "m", "1.0.0", PROMPT, SamplingParams.GREEDY, false, 8, List.of(), 1, null, "ab")));
    }

    @Test
    void aGrammarIsPartOfTheKey() {
        String free = digest(new CacheableRequest(
                "m", "1.0.0", PROMPT, SamplingParams.GREEDY, false, 8, List.of(), 1, null, "acme"));
        String constrained = digest(new CacheableRequest(
                "m", "1.0.0", PROMPT, SamplingParams.GREEDY, false, 8, List.of(), 1, null, "acme", "root ::= \"a\""));
        String other = digest(new CacheableRequest(
                "m", "1.0.0", PROMPT, SamplingParams.GREEDY, false, 8, List.of(), 1, null, "acme", "root ::= \"b\""));
        assertNotEquals(free, constrained);
        assertNotEquals(constrained, other);
        assertEquals(
                free,
                digest(new CacheableRequest(
                        "m", "1.0.0", PROMPT, SamplingParams.GREEDY, false, 8, List.of(), 1, null, "acme", null)));
    }

    @Test
    void onlyRepeatableSamplingIsCacheable() {
        SamplingParams sampled = SamplingParams.DEFAULTS.withSeed(5);
        assertEquals(
                new ResponseCacheKeys.Derivation.NotCacheable(ResponseCacheKeys.NOT_DETERMINISTIC),
                ResponseCacheKeys.derive(
                        new CacheableRequest("m", "1", PROMPT, sampled, false, 8, List.of(), 1, null)));
        digest(new CacheableRequest("m", "1", PROMPT, sampled, true, 8, List.of(), 1, null));
        digest(new CacheableRequest("m", "1", PROMPT, sampled.withTopK(1), false, 8, List.of(), 1, null));
    }

    @Test
    void everyOutputChangingFieldChangesTheKey() {
        String base = digest(greedy("1.0.0", PROMPT, 8, List.of("."), 1, null));
        assertEquals(64, base.length());
        assertEquals(
                base,
                digest(greedy("1.0.0", List.of(new int[] {1, 2, 3}), 8, List.of("."), 1, null)),
                "same request, same key");
        assertNotEquals(base, digest(greedy("1.0.1", PROMPT, 8, List.of("."), 1, null)));
        assertNotEquals(base, digest(greedy("1.0.0", List.of(new int[] {1, 2, 4}), 8, List.of("."), 1, null)));
        assertNotEquals(
                base, digest(greedy("1.0.0", List.of(new int[] {1, 2}, new int[] {3}), 8, List.of("."), 1, null)));
        assertNotEquals(base, digest(greedy("1.0.0", PROMPT, 9, List.of("."), 1, null)));
        assertNotEquals(base, digest(greedy("1.0.0", PROMPT, null, List.of("."), 1, null)));
        assertNotEquals(base, digest(greedy("1.0.0", PROMPT, 8, List.of("!"), 1, null)));
        assertNotEquals(base, digest(greedy("1.0.0", PROMPT, 8, List.of(".", ""), 1, null)));
        assertNotEquals(base, digest(greedy("1.0.0", PROMPT, 8, List.of("."), 2, null)));
        assertNotEquals(base, digest(greedy("1.0.0", PROMPT, 8, List.of("."), 1, 0)));
        assertNotEquals(
                base,
                digest(new CacheableRequest(
                        "m",
                        "1.0.0",
                        PROMPT,
                        SamplingParams.GREEDY.withFrequencyPenalty(0.5f),
                        false,
                        8,
                        List.of("."),
                        1,
                        null)));
        assertNotEquals(
                base,
                digest(new CacheableRequest(
                        "n", "1.0.0", PROMPT, SamplingParams.GREEDY, false, 8, List.of("."), 1, null)));
    }

    @Test
    void argmaxIgnoresTheRandomDrawsParameters() {
        String base = digest(greedy("1", PROMPT, 8, List.of(), 1, null));
        assertEquals(
                base,
                digest(new CacheableRequest(
                        "m",
                        "1",
                        PROMPT,
                        SamplingParams.GREEDY.withSeed(99).withTopP(0.5f),
                        true,
                        8,
                        List.of(),
                        1,
                        null)));
        SamplingParams seeded = SamplingParams.DEFAULTS.withSeed(7);
        String s7 = digest(new CacheableRequest("m", "1", PROMPT, seeded, true, 8, List.of(), 1, null));
        assertNotEquals(
                s7, digest(new CacheableRequest("m", "1", PROMPT, seeded.withSeed(8), true, 8, List.of(), 1, null)));
        assertNotEquals(
                s7,
                digest(new CacheableRequest(
                        "m", "1", PROMPT, seeded.withTemperature(0.5f), true, 8, List.of(), 1, null)));
    }

    @Test
    void cacheControlDirectives() {
        assertEquals(CacheDirective.NONE, CacheDirective.parse(null));
        assertEquals(CacheDirective.NONE, CacheDirective.parse("max-age=60"));
        CacheDirective noCache = CacheDirective.parse("max-age=0, No-Cache=\"Set-Cookie\"");
        assertFalse(noCache.mayRead());
        assertTrue(noCache.mayWrite());
        CacheDirective noStore = CacheDirective.parse("no-store");
        assertFalse(noStore.mayRead());
        assertFalse(noStore.mayWrite());
    }
}
