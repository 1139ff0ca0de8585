package dev.anvil.registry;

import dev.anvil.registry.domain.SemanticVersion;
import dev.anvil.registry.domain.VersionEvent;
import jakarta.annotation.security.PermitAll;
import jakarta.ejb.Asynchronous;
import jakarta.ejb.Stateless;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.time.Clock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Events in a version's history besides its stage changes ({@link VersionEvent}): written by the server's own
 * monitors (drift) asynchronously, in a transaction of their own, so that the thread finishing a request never waits
 * for the database; a version that no longer exists, or a database that cannot be reached, loses the event (logged).
 * Read through {@link ModelRegistry#history}, which is for admins.
 */
@Stateless
@PermitAll
public class VersionEvents {

    private static final Logger LOG = Logger.getLogger(VersionEvents.class.getName());

    @PersistenceContext(unitName = "anvil")
    EntityManager em;

    Clock clock = Clock.systemUTC();

    @Asynchronous
    public void record(String model, String version, VersionEvent.Kind kind, String actor, String detail) {
        try {
            Queries.model(em, model)
                    .flatMap(m -> Queries.version(em, m, SemanticVersion.parse(version)))
                    .ifPresentOrElse(
                            v -> em.persist(new VersionEvent(v, kind, actor, detail, clock.instant())),
                            () -> LOG.info("version event for " + model + "@" + version
                                    + " not recorded: the version is not registered"));
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "version event for " + model + "@" + version + " not recorded", e);
        }
    }
}
