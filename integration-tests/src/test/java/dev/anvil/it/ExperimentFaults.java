package dev.anvil.it;

/** The fault the harness injects at server start (anvil.serving.fault-injection), shared with the test that uses it. */
public final class ExperimentFaults {

    /** Model name whose version {@link #FAILING_VERSION_NUMBER} fails every request (the canary rollback IT registers it). */
    public static final String FAILING_MODEL = "canary-faulty";

    public static final String FAILING_VERSION_NUMBER = "2.0.0";
    public static final String FAILING_VERSION = FAILING_MODEL + "@" + FAILING_VERSION_NUMBER;

    private ExperimentFaults() {}
}
