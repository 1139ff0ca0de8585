package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.cache.CachedGeneration;
import dev.anvil.cache.ResponseCache;
import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import dev.anvil.serving.TokenLogprob;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A submission answered from the response cache: its events, results, and what the SSE writer makes of them. */
class ReplayedSubmissionTest {

    private static final ServedModel MODEL = new ServedModel("m", "1.0.0", null, 512, null, Instant.EPOCH, "anvil");
    private static final TokenLogprob LP =
            new TokenLogprob(7, " dog", " dog".getBytes(StandardCharsets.UTF_8), -0.5f, List.of());

    /** Two prompts, n = 2: prompt 0 choice 1 has an empty delta; prompt 1 has log-probabilities. */
    private static CachedGeneration generation() {
        return new CachedGeneration(List.of(
                new CachedGeneration.Prompt(
                        3,
                        4,
                        0,
                        List.of(
                                new CachedGeneration.Choice(
                                        0,
                                        FinishReason.LENGTH,
                                        new int[] {4, 5},
                                        List.of(
                                                new CachedGeneration.Delta("Once", null),
                                                new CachedGeneration.Delta(" upon", null))),
                                new CachedGeneration.Choice(
                                        1,
                                        FinishReason.STOP,
                                        new int[] {6, 2},
                                        List.of(
                                                new CachedGeneration.Delta("", null),
                                                new CachedGeneration.Delta("The", null))))),
                new CachedGeneration.Prompt(
                        2,
                        2,
                        0,
                        List.of(
                                new CachedGeneration.Choice(
                                        0,
                                        FinishReason.STOP,
                                        new int[] {7},
                                        List.of(new CachedGeneration.Delta(" dog", LP))),
                                new CachedGeneration.Choice(1, FinishReason.STOP, new int[] {2}, List.of())))));
    }

    private static Submission replay(boolean logprobs) {
        return Submission.replay(
                "cmpl-1",
                MODEL,
                2,
                List.of("p0", "p1"),
                logprobs,
                new Submission.Setup(null, null, new ResponseCache.Lookup.Hit(generation()), null, List.of()));
    }

    @Test
    void resultsAreThereAtOnce() {
        Submission s = replay(true);
        assertTrue(s.isReplay());
        assertEquals("hit", s.cacheStatus());
        assertEquals(2, s.prompts());
        assertEquals(4, s.choices());
        assertEquals(5, s.totalPromptTokens());
        List<GenerationResult> results = s.results().getNow(null);
        assertEquals("Once upon", results.get(0).choices().get(0).text());
        assertEquals("The", results.get(0).choices().get(1).text());
        assertEquals(List.of(LP), results.get(1).choices().get(0).logprobs());
        assertEquals(4, results.get(0).usage().completionTokens());
        assertNull(replay(false).results().getNow(null).get(1).choices().get(0).logprobs(), "no logprobs unless asked");
    }

    @Test
    void eventsNumberChoicesAcrossPromptsAndEndEachPrompt() {
        Submission s = replay(false);
        StringBuilder seen = new StringBuilder();
        for (Submission.Event e; (e = s.pollNow()) != null; ) {
            switch (e) {
                case Submission.Event.Delta d ->
                    seen.append(d.index())
                            .append(':')
                            .append(d.text())
                            .append(d.logprob() == null ? "" : "+lp")
                            .append('|');
                case Submission.Event.Finish f ->
                    seen.append(f.index())
                            .append('=')
                            .append(f.reason().openAiName())
                            .append('|');
                case Submission.Event.Complete c ->
                    seen.append("done").append(c.prompt()).append('|');
                case Submission.Event.Failed f -> seen.append("failed|");
                case Submission.Event.Filtered f -> seen.append("filtered|");
            }
        }
        assertEquals("0:Once|0: upon|0=length|1:|1:The|1=stop|done0|2: dog|2=stop|3=stop|done1|", seen.toString());
    }

    @Test
    void theSseWriterReplaysChunksUsageAndDone() {
        Submission s = replay(false);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new SseStream(s, SseStreamTest.FORMAT, true, 60).write(out);
        String body = out.toString(StandardCharsets.UTF_8);
        assertEquals("""
                data: {"open":0}

                data: {"i":0,"t":"Once"}

                data: {"i":0,"t":" upon"}

                data: {"f":"length","i":0}

                data: {"i":1,"t":"The"}

                data: {"f":"stop","i":1}

                data: {"i":2,"t":" dog"}

                data: {"f":"stop","i":2}

                data: {"f":"stop","i":3}

                data: {"c":6,"p":5}

                data: [DONE]

                """, body);
    }
}
