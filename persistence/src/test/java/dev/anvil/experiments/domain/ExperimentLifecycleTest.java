package dev.anvil.experiments.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ExperimentLifecycleTest {

    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
    private static final Guardrails GUARDRAILS = new Guardrails(0.05, 2000L, 0.2, 100);

    static List<VariantSpec> twoVariants(int controlWeight, int candidateWeight) {
        return List.of(
                new VariantSpec("control", "1.0.0", 0.7, 0.9, 128, null, controlWeight, true),
                new VariantSpec("candidate", "1.1.0", 0.5, null, null, "Be brief.", candidateWeight, false));
    }

    static Experiment ab(String name) {
        return new Experiment(
                name,
                "stories",
                ExperimentStrategy.AB,
                "shorter answers",
                PrimaryMetric.ERROR_RATE,
                GUARDRAILS,
                null,
                twoVariants(50, 50),
                "alice",
                T0);
    }

    /** An experiment of model "m" without hypothesis, under {@link #GUARDRAILS}, created by "a" at {@link #T0}. */
    static Experiment experiment(
            String name,
            ExperimentStrategy strategy,
            PrimaryMetric metric,
            String canarySteps,
            List<VariantSpec> variants) {
        return new Experiment(name, "m", strategy, null, metric, GUARDRAILS, canarySteps, variants, "a", T0);
    }

    /** The field an {@link InvalidExperimentException} thrown by {@code construction} names. */
    static String refusedField(org.junit.jupiter.api.function.Executable construction) {
        return assertThrows(InvalidExperimentException.class, construction).field();
    }

    @Test
    void fullLifecycleRecordsEveryEvent() {
        Experiment e = ab("life");
        assertEquals(ExperimentStatus.DRAFT, e.status());
        e.start("bob", T0.plusSeconds(1));
        assertEquals(T0.plusSeconds(1), e.startedAt());
        e.pause("bob", "investigating", T0.plusSeconds(2));
        e.resume("bob", T0.plusSeconds(3));
        e.complete("carol", "candidate wins", T0.plusSeconds(4));
        assertEquals(ExperimentStatus.COMPLETED, e.status());
        assertEquals(T0.plusSeconds(4), e.endedAt());
        assertEquals("candidate wins", e.endReason());
        assertEquals(
                List.of(
                        ExperimentEvent.Action.CREATED,
                        ExperimentEvent.Action.STARTED,
                        ExperimentEvent.Action.PAUSED,
                        ExperimentEvent.Action.RESUMED,
                        ExperimentEvent.Action.COMPLETED),
                e.events().stream().map(ExperimentEvent::action).toList());
        ExperimentEvent paused = e.events().get(2);
        assertEquals(ExperimentStatus.RUNNING, paused.from());
        assertEquals(ExperimentStatus.PAUSED, paused.to());
        assertEquals("investigating", paused.reason());
        assertNull(e.events().get(0).from());
        assertEquals("weights {candidate=50, control=50}", e.events().get(1).reason(), "the split it started with");
    }

    @Test
    void aCanaryRecordsThatItStartsAtItsFirstStep() {
        Experiment e = experiment(
                "canary-start", ExperimentStrategy.CANARY, PrimaryMetric.ERROR_RATE, "5,25,100", twoVariants(100, 0));
        ExperimentEvent started = e.start("bob", T0);
        assertEquals("weights {candidate=5, control=95}", started.reason());
    }

    @Test
    void illegalTransitionsAreRefusedWithoutChange() {
        Experiment draft = ab("illegal");
        assertThrows(IllegalExperimentTransitionException.class, () -> draft.pause("bob", null, T0));
        assertThrows(IllegalExperimentTransitionException.class, () -> draft.complete("bob", null, T0));
        assertThrows(IllegalExperimentTransitionException.class, () -> draft.resume("bob", T0));
        draft.start("bob", T0);
        assertThrows(IllegalExperimentTransitionException.class, () -> draft.start("bob", T0));
        assertThrows(IllegalExperimentTransitionException.class, () -> draft.resume("bob", T0), "running, not paused");
        draft.rollBack("bob", "error spike", T0);
        IllegalExperimentTransitionException e =
                assertThrows(IllegalExperimentTransitionException.class, () -> draft.start("bob", T0));
        assertTrue(e.getMessage().contains("ROLLED_BACK"), e.getMessage());
        assertThrows(
                IllegalExperimentTransitionException.class,
                () -> draft.adjustWeights(Map.of("control", 100, "candidate", 0), "bob", null, T0));
        assertEquals(ExperimentStatus.ROLLED_BACK, draft.status());
        assertEquals(3, draft.events().size());
    }

    @Test
    void rollbackNeedsReason() {
        Experiment e = ab("rb");
        e.start("bob", T0);
        InvalidExperimentException ex =
                assertThrows(InvalidExperimentException.class, () -> e.rollBack("bob", " ", T0));
        assertEquals("reason", ex.field());
        assertEquals(ExperimentStatus.RUNNING, e.status());
    }

    @Test
    void weightsMustSumToHundredAndOneControl() {
        InvalidExperimentException sum = assertThrows(
                InvalidExperimentException.class,
                () -> experiment("w", ExperimentStrategy.AB, PrimaryMetric.ERROR_RATE, null, twoVariants(50, 40)));
        assertEquals("weights", sum.field());
        assertTrue(sum.getMessage().contains("got 90"), sum.getMessage());

        List<VariantSpec> twoControls = List.of(
                new VariantSpec("a", "1.0.0", null, null, null, null, 50, true),
                new VariantSpec("b", "1.0.0", null, null, null, null, 50, true));
        assertEquals(
                "variants.control",
                refusedField(
                        () -> experiment("w", ExperimentStrategy.AB, PrimaryMetric.ERROR_RATE, null, twoControls)));
        List<VariantSpec> sameName = List.of(
                new VariantSpec("a", "1.0.0", null, null, null, null, 50, true),
                new VariantSpec("a", "1.0.0", null, null, null, null, 50, false));
        assertEquals(
                "variants.name",
                refusedField(() -> experiment("w", ExperimentStrategy.AB, PrimaryMetric.ERROR_RATE, null, sameName)));
        assertEquals(
                "variants",
                refusedField(() -> experiment(
                        "w",
                        ExperimentStrategy.AB,
                        PrimaryMetric.ERROR_RATE,
                        null,
                        twoVariants(100, 0).subList(0, 1))));
    }

    @Test
    void adjustWeightsChecksEveryVariantAndRecordsEvent() {
        Experiment e = ab("adjust");
        e.start("bob", T0);
        assertEquals(
                "weights",
                assertThrows(
                                InvalidExperimentException.class,
                                () -> e.adjustWeights(Map.of("control", 70, "candidate", 20), "bob", null, T0))
                        .field());
        assertThrows(InvalidExperimentException.class, () -> e.adjustWeights(Map.of("control", 100), "bob", null, T0));
        assertThrows(
                InvalidExperimentException.class,
                () -> e.adjustWeights(Map.of("control", 50, "nope", 50), "bob", null, T0));
        ExperimentEvent event = e.adjustWeights(Map.of("control", 80, "candidate", 20), "bob", "ramp down", T0);
        assertEquals(80, e.control().weightPercent());
        assertEquals(20, e.candidate().weightPercent());
        assertEquals(ExperimentEvent.Action.WEIGHTS_CHANGED, event.action());
        assertEquals("ramp down (weights {candidate=20, control=80})", event.reason());
    }

    @Test
    void canaryStartsAtFirstStep() {
        Experiment e = experiment(
                "canary", ExperimentStrategy.CANARY, PrimaryMetric.LATENCY_MS, "1, 5,25,50,100", twoVariants(100, 0));
        assertEquals(List.of(1, 5, 25, 50, 100), e.canaryStepList());
        e.start("a", T0);
        assertEquals(1, e.candidate().weightPercent());
        assertEquals(99, e.control().weightPercent());
        for (String bad : List.of("5,1,100", "1,5", "0,100", "1,x,100", "")) {
            assertEquals(
                    "canarySteps",
                    refusedField(() -> experiment(
                            "c", ExperimentStrategy.CANARY, PrimaryMetric.ERROR_RATE, bad, twoVariants(100, 0))),
                    bad);
        }
        assertEquals(
                "canarySteps",
                refusedField(() -> experiment(
                        "c", ExperimentStrategy.AB, PrimaryMetric.ERROR_RATE, "1,100", twoVariants(100, 0))));
    }

    @Test
    void shadowControlKeepsAllLiveTraffic() {
        assertEquals(
                "weights",
                refusedField(() -> experiment(
                        "s", ExperimentStrategy.SHADOW, PrimaryMetric.LATENCY_MS, null, twoVariants(50, 50))));
        Experiment s = experiment("s", ExperimentStrategy.SHADOW, PrimaryMetric.LATENCY_MS, null, twoVariants(100, 0));
        assertThrows(
                InvalidExperimentException.class,
                () -> s.adjustWeights(Map.of("control", 90, "candidate", 10), "a", null, T0));
    }

    @Test
    void fieldRulesNameTheField() {
        assertEquals(
                "name",
                refusedField(() -> experiment(
                        "bad name", ExperimentStrategy.AB, PrimaryMetric.ERROR_RATE, null, twoVariants(50, 50))));
        assertEquals(
                "maxErrorRate",
                assertThrows(InvalidExperimentException.class, () -> new Guardrails(1.5, null, null, 10))
                        .field());
        assertEquals(
                "minimumSample",
                assertThrows(InvalidExperimentException.class, () -> new Guardrails(null, null, null, 0))
                        .field());
        assertEquals(
                "primaryMetric",
                assertThrows(InvalidExperimentException.class, () -> PrimaryMetric.parse("happiness"))
                        .field());
        assertEquals(PrimaryMetric.TTFT_MS, PrimaryMetric.parse("TTFT_MS"));
        assertEquals(
                "strategy",
                assertThrows(InvalidExperimentException.class, () -> ExperimentStrategy.parse("XY"))
                        .field());
        List<VariantSpec> hot = List.of(
                new VariantSpec("a", "1.0.0", 3.0, null, null, null, 50, true),
                new VariantSpec("b", "1.0.0", null, null, null, null, 50, false));
        assertEquals(
                "variants.temperature",
                refusedField(() -> experiment("t", ExperimentStrategy.AB, PrimaryMetric.ERROR_RATE, null, hot)));
    }

    @Test
    void feedbackScales() {
        assertTrue(new Feedback("r1", FeedbackScale.THUMBS, -1, null, T0).negative());
        assertTrue(new Feedback("r1", FeedbackScale.STARS, 2, "meh", T0).negative());
        assertTrue(!new Feedback("r1", FeedbackScale.STARS, 3, null, T0).negative());
        assertTrue(!new Feedback("r1", FeedbackScale.THUMBS, 0, null, T0).negative());
        assertEquals(
                "rating",
                assertThrows(
                                InvalidExperimentException.class,
                                () -> new Feedback("r1", FeedbackScale.THUMBS, 5, null, T0))
                        .field());
        assertEquals(
                "rating",
                assertThrows(
                                InvalidExperimentException.class,
                                () -> new Feedback("r1", FeedbackScale.STARS, 0, null, T0))
                        .field());
        assertEquals(
                "responseId",
                assertThrows(
                                InvalidExperimentException.class,
                                () -> new Feedback(" ", FeedbackScale.STARS, 3, null, T0))
                        .field());
        // PostgreSQL cannot store U+0000: refused with the field named, on every database.
        assertEquals(
                "responseId",
                assertThrows(
                                InvalidExperimentException.class,
                                () -> new Feedback("r\u0000", FeedbackScale.THUMBS, 1, null, T0))
                        .field());
        assertEquals(
                "comment",
                assertThrows(
                                InvalidExperimentException.class,
                                () -> new Feedback("r1", FeedbackScale.THUMBS, 1, "a\u0000b", T0))
                        .field());
        assertNotNull(FeedbackScale.parse(null));
        assertEquals(
                "scale",
                assertThrows(InvalidExperimentException.class, () -> FeedbackScale.parse("emoji"))
                        .field());
    }

    @Test
    void aLaterRatingReplacesTheEarlierOneAndARefusedOneChangesNothing() {
        Feedback f = new Feedback("r1", FeedbackScale.THUMBS, -1, "bad", T0);
        f.replace(FeedbackScale.STARS, 5, null, T0.plusSeconds(5));
        assertEquals(FeedbackScale.STARS, f.scale());
        assertEquals(5, f.rating());
        assertNull(f.comment());
        assertEquals(T0.plusSeconds(5), f.createdAt());
        assertTrue(!f.negative());
        assertEquals(
                "rating",
                assertThrows(
                                InvalidExperimentException.class,
                                () -> f.replace(FeedbackScale.THUMBS, 5, "x", T0.plusSeconds(9)))
                        .field());
        assertEquals(
                "comment",
                assertThrows(
                                InvalidExperimentException.class,
                                () -> f.replace(
                                        FeedbackScale.THUMBS,
                                        -1,
                                        "x".repeat(ExperimentText.MAX_COMMENT + 1),
                                        T0.plusSeconds(9)))
                        .field());
        assertEquals(FeedbackScale.STARS, f.scale(), "a refused replacement leaves the rating in effect");
        assertEquals(5, f.rating());
        assertEquals(T0.plusSeconds(5), f.createdAt());
    }
}
