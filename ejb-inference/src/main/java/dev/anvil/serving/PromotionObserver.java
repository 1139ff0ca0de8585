package dev.anvil.serving;

import dev.anvil.registry.ModelStageChanged;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.TransactionPhase;

/**
 * Reacts to committed stage changes involving PRODUCTION (a promotion, or a PRODUCTION version leaving that
 * stage) by asking {@link ServingLifecycle} to reconcile; the loading happens on a timer thread, so the
 * request that changed the stage returns at once. A version moved to ARCHIVED that was loaded on demand for
 * {@code name@version} requests is unloaded (after its requests in flight).
 */
@ApplicationScoped
public class PromotionObserver {

    @EJB
    ServingLifecycle lifecycle;

    @EJB
    ModelRuntimes runtimes;

    void onStageChanged(@Observes(during = TransactionPhase.AFTER_SUCCESS) ModelStageChanged event) {
        // An ARCHIVED version no longer serves, even pinned: if it was loaded on demand, it drains and unloads.
        if ("ARCHIVED".equals(event.to())) runtimes.unloadExtra(event.model(), event.version());
        if ("PRODUCTION".equals(event.to()) || "PRODUCTION".equals(event.from())) lifecycle.requestSync();
    }
}
