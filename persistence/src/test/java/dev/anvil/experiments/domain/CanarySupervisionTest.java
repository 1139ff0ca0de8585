package dev.anvil.experiments.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Each decision of {@link Experiment#superviseCanary}: roll back, step up, hold, full rollout. */
class CanarySupervisionTest {

    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
    /** Minimum sample 100. */
    private static final Guardrails GUARDRAILS = new Guardrails(0.05, 2000L, 0.2, 100);

    private static Experiment runningCanary(String steps) {
        Experiment e = new Experiment(
                "canary",
                "m",
                ExperimentStrategy.CANARY,
                null,
                PrimaryMetric.ERROR_RATE,
                GUARDRAILS,
                steps,
                ExperimentLifecycleTest.twoVariants(100, 0),
                "alice",
                T0);
        e.start("alice", T0);
        return e;
    }

    private static CanaryObservation held(long outcomes, long thisStep) {
        return new CanaryObservation(outcomes, List.of(), thisStep);
    }

    private static Map<String, Integer> weights(Experiment e) {
        return Map.of(
                e.control().name(),
                e.control().weightPercent(),
                e.candidate().name(),
                e.candidate().weightPercent());
    }

    @Test
    void aBreachRollsTheCanaryBackWithTheBreachesAsReason() {
        Experiment e = runningCanary("5,25,100");
        CanaryDecision d = e.superviseCanary(
                new CanaryObservation(120, List.of("error rate 9.00% exceeds the limit of 5.00%"), 120),
                "experiment-controller",
                T0.plusSeconds(60));
        CanaryDecision.RolledBack rolledBack = assertInstanceOf(CanaryDecision.RolledBack.class, d);
        assertTrue(d.changed());
        assertEquals(
                "automatic rollback: candidate candidate (m@1.1.0) at 5% breached its guardrails over 120 outcomes: "
                        + "error rate 9.00% exceeds the limit of 5.00%; all traffic back to control control",
                rolledBack.reason());
        assertEquals(ExperimentStatus.ROLLED_BACK, e.status());
        assertEquals(rolledBack.reason(), e.endReason());
        assertEquals(T0.plusSeconds(60), e.endedAt());
        ExperimentEvent last = e.events().getLast();
        assertEquals(ExperimentEvent.Action.ROLLED_BACK, last.action());
        assertEquals("experiment-controller", last.actor());
    }

    @Test
    void aBreachRollsBackEvenAtFullRolloutAndALongReasonIsCut() {
        Experiment e = runningCanary("100");
        String breach = "p95 latency 9000 ms exceeds the limit of 2000 ms " + "x".repeat(1200);
        CanaryDecision d = e.superviseCanary(new CanaryObservation(500, List.of(breach), 10), "c", T0.plusSeconds(1));
        assertEquals(
                ExperimentText.MAX_REASON,
                assertInstanceOf(CanaryDecision.RolledBack.class, d).reason().length());
        assertEquals(ExperimentStatus.ROLLED_BACK, e.status());
    }

    @Test
    void heldGuardrailsOverTheMinimumSampleRaiseTheCandidateToTheNextStep() {
        Experiment e = runningCanary("5,25,100");
        CanaryDecision d = e.superviseCanary(held(150, 100), "c", T0.plusSeconds(60));
        assertEquals(new CanaryDecision.SteppedUp(5, 25), d);
        assertTrue(d.changed());
        assertEquals(Map.of("control", 75, "candidate", 25), weights(e));
        assertEquals(ExperimentStatus.RUNNING, e.status());
        ExperimentEvent step = e.events().getLast();
        assertEquals(ExperimentEvent.Action.WEIGHTS_CHANGED, step.action());
        assertEquals(
                "canary step 5% -> 25%: guardrails held over 100 candidate outcomes (weights {candidate=25, control=75})",
                step.reason());
        assertEquals(T0.plusSeconds(60), e.canaryStepSince(), "the new step counts its outcomes from its own start");

        assertEquals(
                new CanaryDecision.SteppedUp(25, 100), e.superviseCanary(held(400, 250), "c", T0.plusSeconds(120)));
        assertEquals(Map.of("control", 0, "candidate", 100), weights(e));
    }

    @Test
    void belowTheMinimumSampleOfItsStepTheCanaryHolds() {
        Experiment e = runningCanary("5,25,100");
        int events = e.events().size();
        CanaryDecision d = e.superviseCanary(held(500, 99), "c", T0.plusSeconds(60));
        assertInstanceOf(CanaryDecision.Held.class, d);
        assertFalse(d.changed());
        assertEquals(
                Map.of("control", 95, "candidate", 5),
                weights(e),
                "outcomes of earlier steps do not count for this one");
        assertEquals(events, e.events().size(), "nothing recorded");
    }

    @Test
    void atFullRolloutTheCanaryWaitsForAnOperatorToComplete() {
        Experiment e = runningCanary("5,100");
        e.superviseCanary(held(100, 100), "c", T0.plusSeconds(60));
        int events = e.events().size();
        CanaryDecision d = e.superviseCanary(held(10_000, 10_000), "c", T0.plusSeconds(120));
        assertEquals(new CanaryDecision.FullRollout(), d);
        assertFalse(d.changed());
        assertEquals(ExperimentStatus.RUNNING, e.status());
        assertEquals(events, e.events().size());
        e.complete("alice", "rolled out", T0.plusSeconds(180));
        assertEquals(ExperimentStatus.COMPLETED, e.status());
    }

    @Test
    void onlyARunningCanaryIsSupervised() {
        Experiment paused = runningCanary("5,100");
        paused.pause("alice", "look", T0.plusSeconds(1));
        CanaryObservation breached = new CanaryObservation(200, List.of("error rate too high"), 200);
        assertInstanceOf(CanaryDecision.Held.class, paused.superviseCanary(breached, "c", T0.plusSeconds(2)));
        assertEquals(ExperimentStatus.PAUSED, paused.status());
        assertEquals(5, paused.candidate().weightPercent());

        Experiment ab = ExperimentLifecycleTest.ab("ab");
        ab.start("alice", T0);
        assertInstanceOf(CanaryDecision.Held.class, ab.superviseCanary(breached, "c", T0.plusSeconds(2)));
        assertEquals(ExperimentStatus.RUNNING, ab.status());
    }

    @Test
    void aStepStartsAtTheStartAResumeOrAWeightChange() {
        Experiment e = runningCanary("5,100");
        assertEquals(T0, e.canaryStepSince());
        e.pause("alice", null, T0.plusSeconds(10));
        assertEquals(T0, e.canaryStepSince(), "a pause does not start a step");
        e.resume("alice", T0.plusSeconds(20));
        assertEquals(T0.plusSeconds(20), e.canaryStepSince());
        e.adjustWeights(Map.of("control", 90, "candidate", 10), "alice", null, T0.plusSeconds(30));
        assertEquals(T0.plusSeconds(30), e.canaryStepSince());
    }
}
