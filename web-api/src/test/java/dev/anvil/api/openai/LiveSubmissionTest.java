package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.anvil.cache.CachedGeneration;
import dev.anvil.cache.ResponseCache;
import dev.anvil.resilience.FallbackReason;
import dev.anvil.resilience.ResilientInference;
import dev.anvil.serving.GenerationHandle;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** A live submission: what it is made with (its setup) and what it records for the response cache. */
class LiveSubmissionTest {

    private static final ServedModel MODEL = new ServedModel("m", "1.0.0", null, 512, null, Instant.EPOCH, "anvil");
    private static final ResponseCache.Lookup.Miss STORABLE =
            new ResponseCache.Lookup.Miss("m@1.0.0#k", "m@1.0.0", 1, true, "miss");

    private static GenerationHandle finished(String text) {
        return GenerationHandle.completed("cmpl-1", MODEL, 3, 2, text, new int[] {7, 8});
    }

    private static Submission live(ResponseCache.Lookup lookup, List<Runnable> held) {
        return Submission.live(
                "cmpl-1",
                MODEL,
                2,
                List.of(finished("Once"), finished("The")),
                List.of("p0", "p1"),
                true,
                new Submission.Setup(null, null, lookup, null, held));
    }

    @Test
    void aStorableMissRecordsEveryChoiceForTheCache() {
        Submission s = live(STORABLE, List.of());
        List<GenerationResult> results = s.results().join();
        CachedGeneration recorded = s.recordedGeneration(results);
        assertNotNull(recorded);
        assertEquals(2, recorded.prompts().size());
        assertEquals(
                "Once",
                recorded.prompts().get(0).choices().get(1).deltas().getFirst().text());
        assertEquals(6, s.totalPromptTokens());
        assertEquals(4, s.choices());
        assertEquals("miss", s.cacheStatus());
        assertFalse(s.isReplay());
    }

    @Test
    void aRequestTheCacheMayNotStoreRecordsNothing() {
        Submission bypassed = live(new ResponseCache.Lookup.Bypass("uncacheable"), List.of());
        assertNull(bypassed.recordedGeneration(bypassed.results().join()));
        Submission unstorable = live(new ResponseCache.Lookup.Miss("k", "m@1.0.0", 1, false, "no-store"), List.of());
        assertNull(unstorable.recordedGeneration(unstorable.results().join()));
    }

    @Test
    void aFallbacksAnswerKeepsTheSetupButNotTheCacheLookup() {
        Runnable hold = () -> {};
        GuardedOutput output =
                new GuardedOutput((policy, json) -> null, new RequestGuardrails(null, java.util.Set.of(), null));
        Submission.Setup setup = new Submission.Setup(null, output, STORABLE, null, List.of(hold));
        ResilientInference.Fallback fallback =
                new ResilientInference.Fallback("m@1.0.0", "small@1.0.0", FallbackReason.OVERLOADED);
        Submission.Setup taken = setup.answeredBy(fallback);
        assertSame(fallback, taken.fallback());
        assertSame(output, taken.output());
        assertEquals(List.of(hold), taken.held());
        assertNull(
                taken.cacheLookup(),
                "a fallback's answer is neither stored under the routed version's key nor reported on");
        assertNull(setup.fallback(), "the setup it was derived from is unchanged");
        Submission s = Submission.live("cmpl-1", MODEL, 2, List.of(finished("x")), List.of("p0"), false, taken);
        assertNull(s.cacheStatus());
        assertNull(s.recordedGeneration(s.results().join()));
        assertSame(fallback, s.fallback);
    }

    @Test
    void whatTheRequestHoldsGoesBackOnceWhenAnswered() {
        AtomicInteger slot = new AtomicInteger(), stream = new AtomicInteger();
        Submission s = live(STORABLE, List.of(slot::incrementAndGet, stream::incrementAndGet));
        s.answered();
        s.answered();
        assertEquals(1, slot.get());
        assertEquals(1, stream.get());
    }

    @Test
    void everyPromptHasItsGeneration() {
        assertThrows(
                IllegalArgumentException.class,
                () -> Submission.live(
                        "cmpl-1",
                        MODEL,
                        2,
                        List.of(finished("x")),
                        List.of("p0", "p1"),
                        false,
                        new Submission.Setup(null, null, null, null, List.of())));
    }
}
