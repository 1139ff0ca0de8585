package dev.anvil.registry;

import dev.anvil.registry.domain.Model;
import dev.anvil.registry.domain.ModelVersion;
import dev.anvil.registry.domain.SemanticVersion;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import java.util.Optional;

/** The registry's lookups, shared by its beans. */
final class Queries {

    private Queries() {}

    static Optional<Model> model(EntityManager em, String name) {
        return em.createNamedQuery(Model.BY_NAME, Model.class)
                .setParameter("name", name)
                .getResultStream()
                .findFirst();
    }

    /**
     * Reads the model row with a write lock ({@code SELECT ... FOR UPDATE}) held until the transaction ends.
     * Stage changes of a model's versions take this lock first, so they run one after another and each sees
     * the previous one's committed result.
     */
    static Optional<Model> lockedModel(EntityManager em, String name) {
        return em.createNamedQuery(Model.BY_NAME, Model.class)
                .setParameter("name", name)
                .setLockMode(LockModeType.PESSIMISTIC_WRITE)
                .getResultStream()
                .findFirst();
    }

    static Optional<ModelVersion> version(EntityManager em, Model model, SemanticVersion version) {
        return em.createNamedQuery(ModelVersion.BY_MODEL_AND_VERSION, ModelVersion.class)
                .setParameter("model", model)
                .setParameter("version", version)
                .getResultStream()
                .findFirst();
    }
}
