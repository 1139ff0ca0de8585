package dev.anvil.routing;

import dev.anvil.routing.domain.CostRouter;
import dev.anvil.security.Callers;
import dev.anvil.security.Roles;
import dev.anvil.service.ServiceException.Kind;
import jakarta.annotation.Resource;
import jakarta.annotation.security.PermitAll;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.SessionContext;
import jakarta.ejb.Stateless;
import jakarta.enterprise.event.Event;
import jakarta.inject.Inject;
import jakarta.json.bind.Jsonb;
import jakarta.json.bind.JsonbBuilder;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Cost-aware router definitions ({@code routing_router}): defined, replaced, listed and removed by administrators
 * ({@code /api/routers}); read by the request path through {@link RouterDirectory} ({@link #definitions}).
 * A definition is checked whole before it is stored: its own rules ({@link RouterSpec#problems}), every candidate
 * a registered model, the router's name no model's name, and no candidate a router (a router routes to models
 * only, so routers can never form a cycle).
 */
@Stateless
@RolesAllowed(Roles.ADMIN)
public class RouterAdmin {

    private static final Jsonb JSON = JsonbBuilder.create();

    /** A stored router. */
    public record RouterInfo(
            String name, RouterSpec definition, Instant createdAt, Instant updatedAt, String updatedBy) {}

    @PersistenceContext(unitName = "anvil")
    EntityManager em;

    @Resource
    SessionContext session;

    @Inject
    Event<RoutersChanged> changed;

    @Inject
    RoutingConfig config;

    /** Creates router {@code name} or replaces its definition. */
    public RouterInfo define(String name, RouterSpec spec) {
        if (spec == null) {
            throw new RouterException(Kind.BAD_REQUEST, "the body must be a router definition", null, "invalid_router");
        }
        List<String> problems = spec.problems(name, config.limits());
        if (!problems.isEmpty()) {
            throw new RouterException(
                    Kind.BAD_REQUEST,
                    "invalid router '" + name + "': " + String.join("; ", problems),
                    null,
                    "invalid_router");
        }
        Set<String> registered =
                new HashSet<>(em.createQuery("select m.name from Model m where m.name in :names", String.class)
                        .setParameter("names", append(spec.models(), name))
                        .getResultList());
        if (registered.contains(name)) {
            throw new RouterException(
                    Kind.BAD_REQUEST,
                    "'" + name + "' is a registered model: a router needs a name of its own (e.g. 'auto')",
                    "name",
                    "invalid_router");
        }
        Map<String, CostRouter> routers = new LinkedHashMap<>();
        for (CostRouter r :
                em.createQuery("select r from CostRouter r", CostRouter.class).getResultList()) {
            routers.put(r.getName(), r);
        }
        for (String model : spec.models()) {
            if (routers.containsKey(model)) {
                throw new RouterException(
                        Kind.BAD_REQUEST,
                        "candidate '" + model + "' is a router: candidates must be models (routers do not chain)",
                        "candidates",
                        "invalid_router");
            }
            if (!registered.contains(model)) {
                throw new RouterException(
                        Kind.BAD_REQUEST,
                        "candidate '" + model + "' is not a registered model (POST /api/registry/models first)",
                        "candidates",
                        "unknown_model");
            }
        }
        String definition = JSON.toJson(spec);
        int maxDefinition = config.maxDefinitionChars();
        if (definition.length() > maxDefinition) {
            throw new RouterException(
                    Kind.BAD_REQUEST,
                    "a router definition holds at most " + maxDefinition
                            + " characters of JSON (anvil.routing.max-definition-chars); this one has "
                            + definition.length(),
                    null,
                    "invalid_router");
        }
        String actor = Callers.actor(session);
        CostRouter router = routers.get(name);
        if (router == null) {
            int maxRouters = config.maxRouters();
            if (routers.size() >= maxRouters) {
                throw new RouterException(
                        Kind.CONFLICT,
                        "at most " + maxRouters + " routers may be defined (anvil.routing.max-routers)",
                        "name",
                        "too_many_routers");
            }
            router = new CostRouter(name, definition, actor);
            em.persist(router);
        } else {
            router.redefine(definition, actor);
        }
        em.flush();
        changed.fire(new RoutersChanged(name));
        return info(router);
    }

    public RouterInfo get(String name) {
        return info(find(name));
    }

    public List<RouterInfo> list() {
        return em.createQuery("select r from CostRouter r order by r.name", CostRouter.class).getResultList().stream()
                .map(RouterAdmin::info)
                .toList();
    }

    public void delete(String name) {
        em.remove(find(name));
        changed.fire(new RoutersChanged(name));
    }

    /** Every router's definition by name: the request path's snapshot (any caller). */
    @PermitAll
    public Map<String, RouterSpec> definitions() {
        Map<String, RouterSpec> out = new LinkedHashMap<>();
        for (CostRouter r :
                em.createQuery("select r from CostRouter r", CostRouter.class).getResultList()) {
            out.put(r.getName(), parse(r.getDefinition()));
        }
        return out;
    }

    private CostRouter find(String name) {
        List<CostRouter> found = em.createQuery("select r from CostRouter r where r.name = :n", CostRouter.class)
                .setParameter("n", name)
                .getResultList();
        if (found.isEmpty()) {
            throw new RouterException(Kind.NOT_FOUND, "no router '" + name + "'", "name", "router_not_found");
        }
        return found.getFirst();
    }

    private static RouterInfo info(CostRouter r) {
        return new RouterInfo(
                r.getName(), parse(r.getDefinition()), r.getCreatedAt(), r.getUpdatedAt(), r.getUpdatedBy());
    }

    static RouterSpec parse(String definition) {
        return JSON.fromJson(definition, RouterSpec.class);
    }

    private static List<String> append(List<String> names, String name) {
        List<String> all = new java.util.ArrayList<>(names);
        all.add(name);
        return all;
    }
}
