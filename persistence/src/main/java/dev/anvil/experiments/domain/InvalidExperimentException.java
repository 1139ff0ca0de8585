package dev.anvil.experiments.domain;

/** A field of an experiment, variant, outcome or feedback that breaks a rule; names the field at fault. */
public class InvalidExperimentException extends IllegalArgumentException {

    private final String field;

    public InvalidExperimentException(String field, String message) {
        super(message);
        this.field = field;
    }

    /** The request field at fault (camelCase, as in the API). */
    public String field() {
        return field;
    }
}
