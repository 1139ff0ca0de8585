package dev.anvil.registry;

import dev.anvil.registry.domain.Model;
import dev.anvil.registry.domain.ModelVersion;
import dev.anvil.registry.domain.SemanticVersion;
import dev.anvil.security.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.Stateless;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import jakarta.persistence.PersistenceException;
import java.time.Clock;
import java.time.Instant;

/**
 * The transactional half of registration: writes the model (when new), the version and its first history
 * entry in one transaction, after {@link ModelRegistry} has measured the file outside any transaction.
 * Not meant to be called directly by resources.
 */
@Stateless
@RolesAllowed(Roles.ADMIN)
public class VersionRecorder {

    static final String MODEL_RACE = "model_created_concurrently";

    @PersistenceContext(unitName = "anvil")
    EntityManager em;

    Clock clock = Clock.systemUTC();

    public ModelVersionInfo record(
            RegisterVersionCommand command, SemanticVersion version, ArtifactFacts facts, String actor) {
        Instant now = clock.instant();
        Model model = Queries.model(em, command.model()).orElse(null);
        try {
            if (model == null) {
                model = RegistryRules.check(() -> new Model(
                        command.model(), command.modelDescription(), command.owner(), command.tags(), actor, now));
                em.persist(model);
                em.flush();
            }
        } catch (PersistenceException e) {
            if (PersistenceFailures.classify(e).isPresent()) {
                // Another request created the same model between our lookup and insert; the caller retries once.
                throw RegistryException.conflict(
                        "model " + command.model() + " was created concurrently; retry", "model", MODEL_RACE);
            }
            throw e;
        }
        if (Queries.version(em, model, version).isPresent()) {
            throw RegistryException.conflict(
                    "model " + model.name() + " already has a version " + version, "version", "version_exists");
        }
        Model owner = model;
        ModelVersion registered = RegistryRules.check(
                () -> new ModelVersion(owner, version, facts.toArtifact(), command.description(), actor, now));
        try {
            em.persist(registered);
            em.flush();
        } catch (PersistenceException e) {
            if (PersistenceFailures.classify(e).isPresent()) {
                // The UNIQUE (model_id, semver) backstop: a concurrent registration of the same version won.
                throw RegistryException.conflict(
                        "model " + model.name() + " already has a version " + version, "version", "version_exists");
            }
            throw e;
        }
        return ModelVersionInfo.of(registered);
    }
}
