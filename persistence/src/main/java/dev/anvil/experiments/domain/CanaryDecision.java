package dev.anvil.experiments.domain;

/** What one supervision pass over a canary decided ({@link Experiment#superviseCanary}). */
public sealed interface CanaryDecision {

    /** Whether the experiment changed (and its change must be saved and announced). */
    boolean changed();

    /** The candidate breached its guardrails: the experiment is ROLLED_BACK, {@code reason} in its history. */
    record RolledBack(String reason) implements CanaryDecision {
        public boolean changed() {
            return true;
        }
    }

    /** The guardrails held over the minimum sample of this step: the candidate went from {@code from} to {@code to} percent. */
    record SteppedUp(int from, int to) implements CanaryDecision {
        public boolean changed() {
            return true;
        }
    }

    /** Nothing changes yet: the candidate has not served the minimum sample of its step, or the experiment is not a running canary. */
    record Held(String why) implements CanaryDecision {
        public boolean changed() {
            return false;
        }
    }

    /** The candidate serves the last step (100 %): the rollout is complete once an operator completes the experiment. */
    record FullRollout() implements CanaryDecision {
        public boolean changed() {
            return false;
        }
    }
}
