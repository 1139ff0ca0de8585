package dev.anvil.serving;

import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/**
 * Readiness {@code models-loaded}: DOWN until every PRODUCTION version in the registry is loaded, warmed up
 * and serving. Also DOWN while a newly promoted version is loading (the previous version keeps serving
 * meanwhile, but the server does not yet serve what the registry says it should).
 */
@Readiness
@ApplicationScoped
public class ModelReadinessCheck implements HealthCheck {

    public static final String NAME = "models-loaded";

    @EJB
    ServingLifecycle lifecycle;

    @EJB
    ModelRuntimes runtimes;

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder b = HealthCheckResponse.named(NAME);
        for (ModelRuntime r : runtimes.servingRuntimes()) {
            b.withData(
                    r.served().name(),
                    r.served().version() + " " + r.state().name().toLowerCase(java.util.Locale.ROOT));
            // Which device the version runs on, and why (auto says why it chose the CPU).
            b.withData(
                    "device " + r.served().name() + "@" + r.served().version(),
                    r.placement().deviceName() + ": " + r.placement().reason());
        }
        if (!lifecycle.initialSyncDone()) {
            return b.down()
                    .withData("reason", "models are being registered and loaded")
                    .build();
        }
        List<String> missing;
        try {
            missing = lifecycle.productionNotServing();
        } catch (RuntimeException e) {
            return b.down()
                    .withData("reason", "the model registry is not available: " + e.getMessage())
                    .build();
        }
        Map<String, String> problems = lifecycle.problems();
        problems.forEach((k, v) -> b.withData("problem " + k, v));
        if (!missing.isEmpty()) {
            return b.down()
                    .withData("reason", "PRODUCTION versions not serving yet: " + String.join(", ", missing))
                    .build();
        }
        return b.up().build();
    }
}
