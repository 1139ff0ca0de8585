package dev.anvil.serving;

import dev.anvil.registry.ModelStageChanged;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.TransactionPhase;

/**
 * Reacts to committed stage changes involving PRODUCTION (a promotion, or a PRODUCTION version leaving that
 * stage) by asking {@link ServingLifecycle} to reconcile; the loading happens on a timer thread, so the
 * request that changed the stage returns at once. Archiving a version also unloads it if it is loaded as an extra.
 */
@ApplicationScoped
public class PromotionObserver {

    @EJB
    ServingLifecycle lifecycle;

    @EJB
    ModelRuntimes runtimes;

    void onStageChanged(@Observes(during = TransactionPhase.AFTER_SUCCESS) ModelStageChanged event) {
        if ("PRODUCTION".equals(event.to()) || "PRODUCTION".equals(event.from())) lifecycle.requestSync();
        // An archived version serves nothing more: a loaded extra copy (pinned, experiment variant, standby) drains
        // and unloads now instead of holding its memory until the LRU bound pushes it out.
        if ("ARCHIVED".equals(event.to())) runtimes.unloadExtra(event.model(), event.version());
    }
}
