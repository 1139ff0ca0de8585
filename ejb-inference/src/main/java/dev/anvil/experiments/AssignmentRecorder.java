package dev.anvil.experiments;

import dev.anvil.experiments.domain.Assignment;
import dev.anvil.experiments.domain.Experiment;
import dev.anvil.experiments.domain.Variant;
import jakarta.annotation.security.PermitAll;
import jakarta.ejb.ApplicationException;
import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import jakarta.persistence.PersistenceException;
import java.time.Instant;

/**
 * Writes a first-seen assignment in a transaction of its own. Two requests of one new subject can race to
 * insert it; the loser's UNIQUE violation then rolls back only this small transaction, and the caller reads the
 * winner's row instead of failing (the winner picked the same variant anyway: the pick is a pure function of
 * the key and the weights).
 */
@Stateless
@PermitAll
public class AssignmentRecorder {

    @PersistenceContext(unitName = "anvil")
    EntityManager em;

    @TransactionAttribute(TransactionAttributeType.REQUIRES_NEW)
    public void record(long experimentId, long variantId, String subjectHash, Instant at) {
        Experiment experiment = em.getReference(Experiment.class, experimentId);
        Variant variant = em.find(Variant.class, variantId);
        try {
            em.persist(new Assignment(experiment, subjectHash, variant, at));
            em.flush();
        } catch (PersistenceException e) {
            if (ExperimentService.isConstraintViolation(e)) {
                // An expected outcome of the race, not a server fault: an application exception, so the container
                // rolls this transaction back without logging it as a failed invocation.
                throw new AlreadyAssigned();
            }
            throw e;
        }
    }

    /** Another request recorded this subject's assignment first. */
    @ApplicationException(rollback = true)
    public static class AlreadyAssigned extends RuntimeException {
        public AlreadyAssigned() {
            super("the subject was assigned by a concurrent request", null, false, false);
        }
    }
}
