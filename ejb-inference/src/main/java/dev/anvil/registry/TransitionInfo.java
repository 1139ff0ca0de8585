package dev.anvil.registry;

import dev.anvil.registry.domain.Stage;
import dev.anvil.registry.domain.StageTransition;
import java.time.Instant;

/**
 * One entry of a version's stage history.
 *
 * @param from null for the registration entry
 */
public record TransitionInfo(
        String model, String version, Stage from, Stage to, String actor, Instant at, String reason) {

    static TransitionInfo of(StageTransition t) {
        return new TransitionInfo(
                t.modelVersion().model().name(),
                t.modelVersion().version().toString(),
                t.from(),
                t.to(),
                t.actor(),
                t.occurredAt(),
                t.reason());
    }
}
