package dev.anvil.experiments.domain;

/** A lifecycle move the experiment's current status does not allow (or a change a final experiment refuses). */
public class IllegalExperimentTransitionException extends IllegalStateException {

    private final ExperimentStatus from;
    private final ExperimentStatus to;

    public IllegalExperimentTransitionException(ExperimentStatus from, ExperimentStatus to, String message) {
        super(message);
        this.from = from;
        this.to = to;
    }

    public ExperimentStatus from() {
        return from;
    }
    /** The requested status, or null when the refused change was not a status move (e.g. a weight change). */
    public ExperimentStatus to() {
        return to;
    }
}
