package dev.anvil.drift;

import dev.anvil.config.ConfigBounds;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/** Every {@code anvil.drift.*} key (MicroProfile Config), with its default: drift detection per served version. */
@ApplicationScoped
public class DriftConfig {

    /** Watch the traffic of every served generation version. */
    @Inject
    @ConfigProperty(name = "anvil.drift.enabled", defaultValue = "true")
    boolean enabled;

    /** Observations per feature in the reference window: the first ones after the version starts serving. */
    @Inject
    @ConfigProperty(name = "anvil.drift.reference-size", defaultValue = "500")
    int referenceSize;

    /** Observations per feature in the current (sliding) window that is compared with the reference. */
    @Inject
    @ConfigProperty(name = "anvil.drift.window-size", defaultValue = "500")
    int windowSize;

    /** Observations both windows of a feature need before its statistics are computed (and can breach). */
    @Inject
    @ConfigProperty(name = "anvil.drift.min-samples", defaultValue = "200")
    int minSamples;

    /** Equal-frequency bins of a numeric feature (from the reference's quantiles). */
    @Inject
    @ConfigProperty(name = "anvil.drift.bins", defaultValue = "10")
    int bins;

    /** Population Stability Index at or above which a feature has drifted (0.25: the conventional "significant"). */
    @Inject
    @ConfigProperty(name = "anvil.drift.psi-threshold", defaultValue = "0.25")
    double psiThreshold;

    /** KL divergence (current from reference) at or above which a feature has drifted. */
    @Inject
    @ConfigProperty(name = "anvil.drift.kl-threshold", defaultValue = "0.2")
    double klThreshold;

    /** Observations of a version between two evaluations of its statistics (events and metrics move then). */
    @Inject
    @ConfigProperty(name = "anvil.drift.evaluate-every", defaultValue = "25")
    int evaluateEvery;

    /**
     * An embedding model Anvil serves whose embeddings of the prompts make the {@code prompt_embedding} feature (unset:
     * that feature is not watched).
     */
    @Inject
    @ConfigProperty(name = "anvil.drift.embedding-model")
    java.util.Optional<String> embeddingModel = java.util.Optional.empty();

    public java.util.Optional<String> embeddingModel() {
        return embeddingModel == null
                ? java.util.Optional.empty()
                : embeddingModel.map(String::strip).filter(s -> !s.isEmpty());
    }

    public boolean enabled() {
        return enabled;
    }

    public int referenceSize() {
        return ConfigBounds.atLeast("anvil.drift.reference-size", referenceSize, 10);
    }

    public int windowSize() {
        return ConfigBounds.atLeast("anvil.drift.window-size", windowSize, 10);
    }

    public int minSamples() {
        return Math.min(
                Math.min(referenceSize(), windowSize()),
                ConfigBounds.atLeast("anvil.drift.min-samples", minSamples, 10));
    }

    public int bins() {
        return Math.min(100, ConfigBounds.atLeast("anvil.drift.bins", bins, 2));
    }

    public double psiThreshold() {
        return psiThreshold > 0 ? psiThreshold : 0.25;
    }

    public double klThreshold() {
        return klThreshold > 0 ? klThreshold : 0.2;
    }

    public int evaluateEvery() {
        return ConfigBounds.atLeast("anvil.drift.evaluate-every", evaluateEvery, 1);
    }

    /** The settings one version's windows use. */
    public VersionDrift.Settings settings() {
        return new VersionDrift.Settings(
                referenceSize(), windowSize(), minSamples(), bins(), psiThreshold(), klThreshold());
    }
}
