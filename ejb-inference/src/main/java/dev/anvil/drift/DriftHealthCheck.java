package dev.anvil.drift;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Locale;
import java.util.Map;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/**
 * Readiness {@code drift}: always UP (drifted traffic is served as well as any other; taking the server out of a load
 * balancer would not help), with a warning in its data per version whose traffic has drifted, naming the features
 * and their PSI.
 */
@Readiness
@ApplicationScoped
public class DriftHealthCheck implements HealthCheck {

    public static final String NAME = "drift";

    @Inject
    DriftMonitor drift;

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder b = HealthCheckResponse.named(NAME).up();
        int drifted = 0;
        Map<String, VersionDrift.Report> reports = drift.reports();
        for (Map.Entry<String, VersionDrift.Report> e : reports.entrySet()) {
            StringBuilder warning = new StringBuilder();
            for (VersionDrift.FeatureReport f : e.getValue().breached()) {
                if (!warning.isEmpty()) warning.append(", ");
                warning.append(String.format(
                        Locale.ROOT,
                        "%s (PSI %.2f)",
                        f.feature().wireName(),
                        f.comparison().psi()));
            }
            if (!warning.isEmpty()) {
                drifted++;
                b.withData("warning " + e.getKey(), "traffic drifted from its reference: " + warning);
            }
        }
        return b.withData("versions drifted", drifted)
                .withData("versions watched", reports.size())
                .build();
    }
}
