package dev.anvil.api.health;

import dev.anvil.serving.EngineEnvironment;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;

/**
 * Liveness: reports the SIMD capabilities the deployment sees (computed inside the EAR by
 * {@link EngineEnvironment}). DOWN if the Vector API gave no usable species, which would make every
 * engine kernel fall back to a useless width.
 */
@Liveness
@ApplicationScoped
public class EngineEnvironmentHealthCheck implements HealthCheck {

    public static final String NAME = "engine-environment";

    @EJB
    EngineEnvironment environment;

    @Override
    public HealthCheckResponse call() {
        int lanes = environment.floatLanes();
        return HealthCheckResponse.named(NAME)
                .status(lanes >= 1)
                .withData("vectorBitSize", environment.vectorBitSize())
                .withData("floatLanes", lanes)
                .withData("availableProcessors", environment.availableProcessors())
                .withData("maxHeapMiB", environment.maxHeapBytes() >> 20)
                .build();
    }
}
