package dev.anvil.registry.domain;

/** A stage change the lifecycle does not allow, such as ARCHIVED to PRODUCTION. */
public class IllegalStageTransitionException extends IllegalStateException {

    private final Stage from;
    private final Stage to;

    public IllegalStageTransitionException(Stage from, Stage to, String message) {
        super(message);
        this.from = from;
        this.to = to;
    }

    public Stage from() {
        return from;
    }

    public Stage to() {
        return to;
    }
}
