package dev.anvil.routing;

import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.TransactionPhase;
import jakarta.inject.Inject;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The routers as the request path sees them: a snapshot of every definition, re-read after
 * {@code anvil.routing.refresh-ms} (another node's changes) and at once after a change committed on this one, so routing
 * reads no database per request; and the latencies each router observed ({@link RouteLatencies}).
 */
@ApplicationScoped
public class RouterDirectory {

    private static final Logger LOG = Logger.getLogger(RouterDirectory.class.getName());

    @EJB
    RouterAdmin admin;

    @Inject
    RoutingConfig config;

    private volatile RouteLatencies latencies;
    private volatile Map<String, RouterSpec> routers = Map.of();
    private volatile long loadedAtNanos;
    private volatile boolean stale = true;

    void onChanged(@Observes(during = TransactionPhase.AFTER_SUCCESS) RoutersChanged change) {
        latencies().forget(change.name());
        stale = true;
    }

    /** The router named {@code name}, or null when it names none (a model, or nothing). */
    public RouterSpec router(String name) {
        if (name == null || name.indexOf('@') >= 0) return null;
        return snapshot().get(name);
    }

    /** The names of every router, sorted. */
    public java.util.List<String> names() {
        return snapshot().keySet().stream().sorted().toList();
    }

    public RouteLatencies latencies() {
        RouteLatencies l = latencies;
        if (l == null) {
            synchronized (this) {
                if (latencies == null) latencies = new RouteLatencies(config.latencyMinObservations());
                l = latencies;
            }
        }
        return l;
    }

    private Map<String, RouterSpec> snapshot() {
        long now = System.nanoTime();
        if (stale || now - loadedAtNanos > config.refreshMs() * 1_000_000) {
            try {
                stale = false;
                routers = Map.copyOf(admin.definitions());
                loadedAtNanos = now;
            } catch (RuntimeException e) {
                // the database is unreachable: the last snapshot routes until it is back
                LOG.log(Level.WARNING, "cannot read the router definitions; routing with the last ones", e);
                loadedAtNanos = now;
            }
        }
        return routers;
    }
}
