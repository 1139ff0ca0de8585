package dev.anvil.serving;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Applies the TEST-ONLY {@code anvil.serving.fault-injection} setting on the serving path: just before a request is
 * queued on a version's scheduler, a configured delay holds the calling thread, and {@code fail} rejects the request
 * as unavailable (HTTP 503). Exists to rehearse canary rollbacks against a deliberately bad version on a real server;
 * the setting is empty in production, and then this costs one map lookup.
 */
@ApplicationScoped
public class FaultInjector {

    private static final Logger LOG = Logger.getLogger(FaultInjector.class.getName());

    @Inject
    ServingConfig config;

    private volatile FaultInjection faults = FaultInjection.none();

    @PostConstruct
    void parse() {
        try {
            faults = FaultInjection.parse(config.faultInjection());
            if (!faults.isEmpty()) {
                LOG.warning(() -> "TEST-ONLY fault injection is active (anvil.serving.fault-injection="
                        + config.faultInjection() + "); never set it in production");
            }
        } catch (IllegalArgumentException e) {
            LOG.log(Level.SEVERE, "anvil.serving.fault-injection is invalid and ignored: " + e.getMessage());
        }
    }

    /**
     * Delays or fails a request to {@code ref} ({@code name@version}) as configured; does nothing for other versions.
     *
     * @throws InferenceException UNAVAILABLE for a version configured to {@code fail}
     */
    public void apply(String ref) {
        FaultInjection.Fault fault = faults.forVersion(ref);
        if (fault == null) return;
        if (fault.fail()) {
            throw InferenceException.unavailable(
                    "model version " + ref + " failed (injected fault: anvil.serving.fault-injection)", 1);
        }
        try {
            Thread.sleep(fault.delayMs());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
