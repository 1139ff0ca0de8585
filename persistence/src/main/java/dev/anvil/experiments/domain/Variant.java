package dev.anvil.experiments.domain;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.PrePersist;
import jakarta.persistence.Table;

/**
 * One arm of an experiment: a version of the experiment's model plus generation parameters, and its share of
 * traffic. The experiment owns the invariants across variants (weights sum to 100, exactly one control).
 */
@Entity
@Table(name = "experiment_variant")
public class Variant {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "experiment_id", nullable = false, updatable = false)
    private Experiment experiment;

    @Column(name = "name", nullable = false, length = 64, updatable = false)
    private String name;

    @Column(name = "model_version", nullable = false, length = 64, updatable = false)
    private String modelVersion;

    @Column(name = "temperature", updatable = false)
    private Double temperature;

    @Column(name = "top_p", updatable = false)
    private Double topP;

    @Column(name = "max_tokens", updatable = false)
    private Integer maxTokens;

    @Column(name = "system_prompt", length = ExperimentText.MAX_SYSTEM_PROMPT, updatable = false)
    private String systemPrompt;

    @Column(name = "weight_percent", nullable = false)
    private int weightPercent;

    @Column(name = "control", nullable = false, updatable = false)
    private boolean control;

    /*
     * The experiment's id on the control variant, NULL on the others: UNIQUE in the schema, so the database
     * itself refuses a second control. Set once the experiment has an id (see markControl).
     */
    @Column(name = "control_of")
    private Long controlOf;

    protected Variant() {
        // for JPA
    }

    Variant(Experiment experiment, VariantSpec spec) {
        this.experiment = experiment;
        String field = "variants[" + spec.name() + "]";
        this.name = ExperimentText.require("variants.name", spec.name(), ExperimentText.VARIANT_NAME, "variant name");
        if (spec.modelVersion() == null || spec.modelVersion().isBlank()) {
            throw new InvalidExperimentException("variants.modelVersion", "variant " + name + " needs a modelVersion");
        }
        if (spec.modelVersion().length() > 64) {
            throw new InvalidExperimentException(
                    "variants.modelVersion", "variant " + name + ": modelVersion is longer than 64 characters");
        }
        this.modelVersion = spec.modelVersion().strip();
        if (spec.temperature() != null && !(spec.temperature() >= 0 && spec.temperature() <= 2)) {
            throw new InvalidExperimentException(
                    "variants.temperature", field + ": temperature must be between 0 and 2, got " + spec.temperature());
        }
        if (spec.topP() != null && !(spec.topP() > 0 && spec.topP() <= 1)) {
            throw new InvalidExperimentException(
                    "variants.topP", field + ": topP must be in (0, 1], got " + spec.topP());
        }
        if (spec.maxTokens() != null && spec.maxTokens() < 1) {
            throw new InvalidExperimentException(
                    "variants.maxTokens", field + ": maxTokens must be at least 1, got " + spec.maxTokens());
        }
        this.temperature = spec.temperature();
        this.topP = spec.topP();
        this.maxTokens = spec.maxTokens();
        this.systemPrompt =
                ExperimentText.optional("variants.systemPrompt", spec.systemPrompt(), ExperimentText.MAX_SYSTEM_PROMPT);
        if (spec.weightPercent() == null) {
            throw new InvalidExperimentException("variants.weightPercent", field + ": weightPercent is required");
        }
        this.weightPercent = checkWeight(name, spec.weightPercent());
        this.control = spec.control();
    }

    static int checkWeight(String variant, int weight) {
        if (weight < 0 || weight > 100) {
            throw new InvalidExperimentException(
                    "weights", "variant " + variant + ": weight must be between 0 and 100 percent, got " + weight);
        }
        return weight;
    }

    void weightPercent(int weight) {
        this.weightPercent = checkWeight(name, weight);
    }

    /**
     * The experiment row is inserted before its variants (identity ids, collection cascade after the parent),
     * so its id is known here; the control marker must be in the INSERT itself to pass the CHECK constraint.
     */
    @PrePersist
    void markControl() {
        this.controlOf = control ? experiment.id() : null;
    }

    public Long id() {
        return id;
    }

    public Experiment experiment() {
        return experiment;
    }

    public String name() {
        return name;
    }

    public String modelVersion() {
        return modelVersion;
    }

    public Double temperature() {
        return temperature;
    }

    public Double topP() {
        return topP;
    }

    public Integer maxTokens() {
        return maxTokens;
    }

    public String systemPrompt() {
        return systemPrompt;
    }

    public int weightPercent() {
        return weightPercent;
    }

    public boolean control() {
        return control;
    }
}
