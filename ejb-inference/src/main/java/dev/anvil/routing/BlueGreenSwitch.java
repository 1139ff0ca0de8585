package dev.anvil.routing;

import dev.anvil.registry.ModelRegistry;
import dev.anvil.registry.RegistryException;
import dev.anvil.registry.StageChangeResult;
import dev.anvil.security.Roles;
import dev.anvil.service.ServiceException;
import dev.anvil.serving.InferenceException;
import dev.anvil.serving.ModelRuntime;
import dev.anvil.serving.ModelRuntimes;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.ejb.Stateless;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;

/**
 * Blue-green switching of a model's PRODUCTION version, atomic and reversible in one call each way: the target
 * version is loaded first (or found loaded: a pinned version, an experiment variant, the standby of the previous
 * switch); then the registry records the switch (target to PRODUCTION, the old PRODUCTION version to STAGING) in one
 * transaction; then one map write gives the target the model's traffic, and the old version stays loaded as the
 * standby, so switching back is the same call naming it. Requests resolved before the write finish on the version
 * they started on.
 */
@Stateless
// The registry change commits in its own transaction before the traffic moves; loading must not sit in a transaction.
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
@RolesAllowed(Roles.ADMIN)
public class BlueGreenSwitch {

    @EJB
    ModelRuntimes runtimes;

    @EJB
    ModelRegistry registry;

    /** What a switch did. */
    public record Result(
            String model, String fromVersion, String toVersion, String standby, StageChangeResult registry) {}

    public Result switchTo(String model, String version, String reason) {
        if (version == null || version.isBlank()) {
            throw RegistryException.badRequest(
                    "the version to switch to is required, e.g. {\"version\": \"2.0.0\"}",
                    "version",
                    "missing_version");
        }
        ModelRuntime current = runtimes.serving(model);
        if (current != null && current.served().version().equals(version)) {
            throw RegistryException.conflict(
                    "version " + version + " of model " + model + " already serves its traffic: nothing to switch",
                    "version",
                    "already_production");
        }
        ModelRuntime target;
        try {
            target = runtimes.acquire(model, version);
        } catch (InferenceException e) {
            ServiceException.Kind kind = switch (e.kind()) {
                case NOT_FOUND -> ServiceException.Kind.NOT_FOUND;
                case INVALID -> ServiceException.Kind.CONFLICT;
                default -> ServiceException.Kind.CONFLICT;
            };
            throw new RegistryException(
                    kind,
                    "cannot switch model " + model + " to version " + version + ": " + e.getMessage(),
                    "version",
                    "version_not_loadable");
        }
        StageChangeResult change = registry.switchProduction(model, version, reason);
        runtimes.activate(target, true);
        return new Result(
                model,
                current == null ? null : current.served().version(),
                version,
                current == null ? null : current.served().version(),
                change);
    }
}
