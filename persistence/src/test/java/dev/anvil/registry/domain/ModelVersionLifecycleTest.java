package dev.anvil.registry.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ModelVersionLifecycleTest {

    private static final Instant T0 = Instant.parse("2026-01-02T03:04:05.123456789Z");
    private static final String SHA = "a".repeat(64);

    private static Model model() {
        return new Model("tiny-llama", "a test model", null, List.of("test", "llama"), "alice", T0);
    }

    private static ModelVersion version(Model model, String v) {
        Artifact artifact = new Artifact("/models/x.gguf", ArtifactFormat.GGUF, SHA, 1234, "llama", "Q8_0", 260_000);
        return new ModelVersion(model, SemanticVersion.parse(v), artifact, "first cut", "alice", T0);
    }

    @Test
    void registrationStartsInNoneAndIsTheFirstHistoryEntry() {
        ModelVersion v = version(model(), "1.0.0");
        assertEquals(Stage.NONE, v.stage());
        assertEquals(1, v.history().size());
        StageTransition registered = v.history().getFirst();
        assertNull(registered.from());
        assertEquals(Stage.NONE, registered.to());
        assertEquals("alice", registered.actor());
        assertEquals("registered", registered.reason());
        assertSame(v, registered.modelVersion());
        // Stored precision is microseconds on both databases; the entity truncates so reads equal writes.
        assertEquals(Instant.parse("2026-01-02T03:04:05.123456Z"), v.createdAt());
        assertNull(v.promotedAt());
    }

    @Test
    void moveRecordsWhoWhenWhyAndPromotion() {
        ModelVersion v = version(model(), "1.0.0");
        Instant t1 = T0.plusSeconds(60);
        StageTransition t = v.moveTo(Stage.STAGING, "bob", "  canary  ", t1);
        assertEquals(Stage.STAGING, v.stage());
        assertEquals(Stage.NONE, t.from());
        assertEquals(Stage.STAGING, t.to());
        assertEquals("bob", t.actor());
        assertEquals("canary", t.reason());
        assertEquals("bob", v.promotedBy());
        assertEquals(t1.truncatedTo(java.time.temporal.ChronoUnit.MICROS), v.promotedAt());

        v.moveTo(Stage.PRODUCTION, "carol", null, t1.plusSeconds(1));
        assertEquals("carol", v.promotedBy());
        v.moveTo(Stage.ARCHIVED, "dave", "replaced", t1.plusSeconds(2));
        // Archiving is not a promotion: the last promotion stays on record.
        assertEquals("carol", v.promotedBy());
        assertEquals(
                List.of(Stage.NONE, Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED),
                v.history().stream().map(StageTransition::to).toList());
    }

    @Test
    void lifecycleTableIsExactlyTheDocumentedOne() {
        assertEquals(EnumSet.of(Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED), Stage.NONE.successors());
        assertEquals(EnumSet.of(Stage.PRODUCTION, Stage.ARCHIVED, Stage.NONE), Stage.STAGING.successors());
        assertEquals(EnumSet.of(Stage.ARCHIVED, Stage.STAGING), Stage.PRODUCTION.successors());
        assertEquals(EnumSet.of(Stage.STAGING), Stage.ARCHIVED.successors());
    }

    @Test
    void archivedCannotGoStraightBackToProduction() {
        ModelVersion v = version(model(), "1.0.0");
        v.moveTo(Stage.ARCHIVED, "alice", null, T0);
        IllegalStageTransitionException e = assertThrows(
                IllegalStageTransitionException.class, () -> v.moveTo(Stage.PRODUCTION, "alice", null, T0));
        assertEquals(Stage.ARCHIVED, e.from());
        assertEquals(Stage.PRODUCTION, e.to());
        assertTrue(e.getMessage().contains("cannot move from ARCHIVED to PRODUCTION"), e.getMessage());
        // Nothing changed: stage and history are as before the refused move.
        assertEquals(Stage.ARCHIVED, v.stage());
        assertEquals(2, v.history().size());
    }

    @ParameterizedTest
    @EnumSource(Stage.class)
    void movingToTheSameStageIsRefused(Stage stage) {
        ModelVersion v = version(model(), "1.0.0");
        if (stage != Stage.NONE) v.moveTo(stage, "a", null, T0);
        IllegalStageTransitionException e =
                assertThrows(IllegalStageTransitionException.class, () -> v.moveTo(stage, "a", null, T0));
        assertTrue(e.getMessage().contains("already in stage " + stage), e.getMessage());
    }

    @Test
    void everyPairIsAllowedExactlyWhenTheTableSaysSo() {
        for (Stage from : Stage.values()) {
            for (Stage to : Stage.values()) {
                ModelVersion v = versionIn(from);
                Set<Stage> allowed = from.successors();
                if (allowed.contains(to)) {
                    v.moveTo(to, "a", null, T0);
                    assertEquals(to, v.stage());
                } else {
                    assertThrows(
                            IllegalStageTransitionException.class,
                            () -> v.moveTo(to, "a", null, T0),
                            from + " -> " + to);
                    assertEquals(from, v.stage());
                }
            }
        }
    }

    private static ModelVersion versionIn(Stage stage) {
        ModelVersion v = version(model(), "1.0.0");
        switch (stage) {
            case NONE -> {}
            case STAGING -> v.moveTo(Stage.STAGING, "a", null, T0);
            case PRODUCTION -> v.moveTo(Stage.PRODUCTION, "a", null, T0);
            case ARCHIVED -> v.moveTo(Stage.ARCHIVED, "a", null, T0);
        }
        return v;
    }

    @Test
    void actorAndReasonAreValidated() {
        ModelVersion v = version(model(), "1.0.0");
        assertThrows(InvalidRegistryFieldException.class, () -> v.moveTo(Stage.STAGING, " ", null, T0));
        InvalidRegistryFieldException e = assertThrows(
                InvalidRegistryFieldException.class,
                () -> v.moveTo(Stage.STAGING, "a", "x".repeat(RegistryText.MAX_REASON + 1), T0));
        assertEquals("reason", e.field());
        assertEquals(Stage.NONE, v.stage());
    }

    @Test
    void stageParsingIsCaseInsensitiveAndNamesTheChoices() {
        assertEquals(Stage.PRODUCTION, Stage.parse("production"));
        InvalidRegistryFieldException e = assertThrows(InvalidRegistryFieldException.class, () -> Stage.parse("LIVE"));
        assertEquals("stage", e.field());
        assertTrue(e.getMessage().contains("NONE, STAGING, PRODUCTION, ARCHIVED"), e.getMessage());
    }
}
