package dev.anvil.registry;

import dev.anvil.registry.domain.VersionEvent;
import java.time.Instant;

/** One event of a version's history that is not a stage change (drift detected or cleared, reference pinned). */
public record VersionEventInfo(String model, String version, String kind, String actor, Instant at, String detail) {

    static VersionEventInfo of(VersionEvent e) {
        return new VersionEventInfo(
                e.modelVersion().model().name(),
                e.modelVersion().version().toString(),
                e.kind().name(),
                e.actor(),
                e.occurredAt(),
                e.detail());
    }
}
