package dev.anvil.experiments.domain;

import java.util.EnumSet;
import java.util.Set;

/**
 * Lifecycle of an experiment. DRAFT is editable and serves nothing; RUNNING splits traffic; PAUSED routes
 * everything to the control but keeps assignments; COMPLETED and ROLLED_BACK are final.
 */
public enum ExperimentStatus {
    DRAFT,
    RUNNING,
    PAUSED,
    COMPLETED,
    ROLLED_BACK;

    /** The statuses this one may move to. */
    public Set<ExperimentStatus> successors() {
        return switch (this) {
            case DRAFT -> EnumSet.of(RUNNING);
            case RUNNING -> EnumSet.of(PAUSED, COMPLETED, ROLLED_BACK);
            // A paused experiment can still be concluded: pausing is often the first step of a rollback.
            case PAUSED -> EnumSet.of(RUNNING, COMPLETED, ROLLED_BACK);
            case COMPLETED, ROLLED_BACK -> EnumSet.noneOf(ExperimentStatus.class);
        };
    }

    public boolean canMoveTo(ExperimentStatus target) {
        return successors().contains(target);
    }

    public boolean isFinal() {
        return this == COMPLETED || this == ROLLED_BACK;
    }
}
