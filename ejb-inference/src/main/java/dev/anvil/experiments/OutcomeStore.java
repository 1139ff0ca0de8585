package dev.anvil.experiments;

import dev.anvil.experiments.domain.Outcome;
import dev.anvil.experiments.domain.ShadowComparison;
import dev.anvil.experiments.domain.Variant;
import jakarta.annotation.security.PermitAll;
import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.util.List;

/**
 * Writes a batch of request-path measurements in one transaction of its own. Unlike
 * {@link ExperimentService#recordOutcome} it accepts outcomes of experiments that ended meanwhile: a response that
 * was in flight when its canary was rolled back still happened and still counts.
 */
@Stateless
@PermitAll
public class OutcomeStore {

    @PersistenceContext(unitName = "anvil")
    EntityManager em;

    /** Returns how many rows were written (variants that no longer exist are skipped). */
    @TransactionAttribute(TransactionAttributeType.REQUIRES_NEW)
    public int write(List<PendingOutcome> outcomes, List<PendingShadowComparison> comparisons) {
        int written = 0;
        for (PendingOutcome o : outcomes) {
            Variant v = em.find(Variant.class, o.variantId());
            if (v == null) continue;
            em.persist(new Outcome(
                    v,
                    o.responseId(),
                    o.latencyMs(),
                    o.ttftMs(),
                    o.promptTokens(),
                    o.completionTokens(),
                    o.error(),
                    o.cost(),
                    o.at()));
            written++;
        }
        for (PendingShadowComparison c : comparisons) {
            Variant v = em.find(Variant.class, c.shadowVariantId());
            if (v == null) continue;
            em.persist(new ShadowComparison(
                    v,
                    c.responseId(),
                    c.controlLatencyMs(),
                    c.shadowLatencyMs(),
                    c.controlCompletionTokens(),
                    c.shadowCompletionTokens(),
                    c.controlChars(),
                    c.shadowChars(),
                    c.outputsAgree(),
                    c.similarity(),
                    c.shadowError(),
                    c.at()));
            written++;
        }
        em.flush();
        return written;
    }
}
